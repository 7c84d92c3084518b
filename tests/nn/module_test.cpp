// Module: hierarchical names, parameter counts, modes, freezing, state dicts and child replacement.
#include <catch2/catch.hpp>

#include "everlora/nn.hpp"
#include "support/fixtures.hpp"

using namespace everlora;

namespace {
GPTConfig tiny_config() { return everlora_test::tiny_gpt_config(); }
}  // namespace

TEST_CASE("parameters get hierarchical PyTorch-style names", "[nn][module]") {
  GPT<float> model(tiny_config());
  const auto named = model.named_parameters();
  std::vector<std::string> names;
  for (const auto& [name, p] : named) names.push_back(name);
  CHECK(names.front() == "wte.weight");
  CHECK(names.back() == "head.weight");
  CHECK(std::find(names.begin(), names.end(), "blocks.1.attn.q.weight") != names.end());
  CHECK(std::find(names.begin(), names.end(), "blocks.0.mlp.fc2.bias") != names.end());
  // Per block: 2 LayerNorms (2 each), 4 projections (2 each), fc1 and fc2 (2 each) = 16.
  CHECK(names.size() == 2 + 2 * 16 + 2 + 1);
  CHECK(&model.find("blocks.1.attn.v") == &model.blocks()[1].attn().v());
}

TEST_CASE("parameter counts match the architecture", "[nn][module]") {
  GPT<float> model(tiny_config());
  const Index d = 8, v = 16, ctx = 8, ffn = 32;
  const Index per_block = 2 * 2 * d + 4 * (d * d + d) + (ffn * d + ffn) + (d * ffn + d);
  CHECK(model.num_parameters() == v * d + ctx * d + 2 * per_block + 2 * d + v * d);
  CHECK(model.num_parameters(true) == model.num_parameters());
  model.freeze();
  CHECK(model.num_parameters(true) == 0);
  CHECK(model.trainable_parameters().empty());
  model.blocks()[0].attn().q().unfreeze();
  CHECK(model.num_parameters(true) == d * d + d);
}

TEST_CASE("train and eval propagate to every descendant", "[nn][module]") {
  GPT<float> model(tiny_config());
  CHECK(model.training());
  model.eval();
  for (auto& [path, m] : model.named_modules()) {
    INFO(path);
    CHECK_FALSE(m->training());
  }
  model.train();
  CHECK(model.blocks()[1].attn().o().training());
}

TEST_CASE("a state dict round trip restores the outputs exactly", "[nn][module]") {
  GPTConfig config = tiny_config();
  GPT<float> a(config);
  config.seed = 99;
  GPT<float> b(config);
  const std::vector<std::int32_t> ids = {1, 2, 3, 4, 5, 6};
  NoGrad no_graph;
  const auto out_a = a.forward(ids, 1, 6).to_vector();
  CHECK(b.forward(ids, 1, 6).to_vector() != out_a);
  StateDict<float> snapshot;
  for (auto& [name, t] : a.state_dict()) snapshot.emplace(name, t.clone());
  b.load_state_dict(snapshot);
  CHECK(b.forward(ids, 1, 6).to_vector() == out_a);
}

TEST_CASE("load_state_dict names missing, unexpected and mis-shaped keys", "[nn][module][errors]") {
  Rng rng(1);
  Linear<float> layer(3, 2, true, rng);
  auto state = layer.state_dict();
  StateDict<float> missing = state;
  missing.erase("bias");
  CHECK_THROWS_WITH(layer.load_state_dict(missing), Catch::Contains("missing parameter 'bias'"));
  layer.load_state_dict(missing, /*strict=*/false);
  StateDict<float> extra = state;
  extra.emplace("scale", Tensor<float>::ones({1}));
  CHECK_THROWS_WITH(layer.load_state_dict(extra), Catch::Contains("unexpected parameter 'scale'"));
  StateDict<float> wrong = state;
  wrong["weight"] = Tensor<float>::zeros({3, 2});
  CHECK_THROWS_WITH(layer.load_state_dict(wrong),
                    Catch::Contains("'weight'") && Catch::Contains("[3, 2]") && Catch::Contains("[2, 3]"));
}

TEST_CASE("replace_child swaps a layer by name and checks its type", "[nn][module]") {
  GPT<float> model(tiny_config());
  auto& attn = model.blocks()[0].attn();
  Rng rng(5);
  auto replacement = std::make_shared<Linear<float>>(8, 8, false, rng);
  attn.replace_child("q", replacement);
  CHECK(&attn.q() == replacement.get());
  CHECK(&model.find("blocks.0.attn.q") == replacement.get());
  CHECK_FALSE(model.state_dict().count("blocks.0.attn.q.bias"));
  CHECK_THROWS_WITH(attn.replace_child("k", std::make_shared<LayerNorm<float>>(8)),
                    Catch::Contains("cannot be replaced by a LayerNorm"));
  CHECK_THROWS_WITH(attn.replace_child("z", replacement), Catch::Contains("no child 'z'") &&
                                                              Catch::Contains("q, k, v, o"));
}

TEST_CASE("bad configurations are rejected with the field named", "[nn][module][errors]") {
  GPTConfig config = tiny_config();
  config.n_heads = 3;
  CHECK_THROWS_WITH(GPT<float>(config), Catch::Contains("n_heads = 3"));
  Rng rng(1);
  CHECK_THROWS_WITH(Linear<float>(0, 4, true, rng), Catch::Contains("Linear"));
  CHECK_THROWS_WITH(Dropout<float>(1.5, 0), Catch::Contains("p = 1.5"));
  Linear<float> layer(4, 2, true, rng);
  CHECK_THROWS_WITH(layer.forward(Tensor<float>::zeros({3, 5})), Catch::Contains("[3, 5]"));
}
