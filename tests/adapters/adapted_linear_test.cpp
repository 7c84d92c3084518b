// AdaptedLinear and attach: the base is untouched at B = 0, gradients through the fused op,
// frozen experts stay bit-identical, merging is exact to rounding, and errors name the problem.
#include <catch2/catch.hpp>

#include "everlora/adapters.hpp"
#include "everlora/optim.hpp"
#include "support/gradcheck.hpp"
#include "support/fixtures.hpp"

using namespace everlora;
using Inputs = std::vector<Tensor<double>>;

namespace {

GPTConfig tiny_gpt() { return everlora_test::tiny_gpt_config(16, 8, 8, 2, 2, /*seed=*/4); }

LoraConfig lora(std::vector<std::string> targets, Index r = 4) {
  LoraConfig c;
  c.r = r;
  c.alpha = 8;
  c.target_modules = std::move(targets);
  c.seed = 9;
  return c;
}

/// A combiner whose weights are a parameter, so the gradient into the weights can be checked.
template <class T>
class FixedWeights : public Combiner<T> {
 public:
  explicit FixedWeights(Tensor<T> w) { this->register_parameter("w", w_, std::move(w)); }
  const char* type_name() const override { return "FixedWeights"; }
  Tensor<T> weights(const CombinerInput<T>&) override { return w_; }
  bool mergeable() const override { return false; }
  Tensor<T>& w() { return w_; }

 private:
  Tensor<T> w_;
};

/// The Identity gate, but claiming not to be: forces the dense ΔW path.
template <class T>
class DenseIdentity : public Identity<T> {
 public:
  bool is_identity() const override { return false; }
};

void randomise_b(AdaptedLinear<double>& layer, Rng& rng) {
  for (std::size_t e = 0; e < layer.experts().size(); ++e)
    layer.experts()[e].b().vec() = Tensor<double>::normal(layer.experts()[e].b().shape(), rng, 0, 1).vec();
}

}  // namespace

TEST_CASE("LoraConfig follows PEFT: scale, rsLoRA, suffix targets and validation", "[adapters][config]") {
  LoraConfig c = lora({"q", "mlp.fc1"}, 16);
  c.alpha = 32;
  CHECK(c.scale() == 2.0);
  c.use_rslora = true;
  CHECK(c.scale() == 8.0);
  CHECK(c.targets("blocks.0.attn.q"));
  CHECK(c.targets("q"));
  CHECK_FALSE(c.targets("blocks.0.attn.qq"));
  CHECK(c.targets("blocks.3.mlp.fc1"));
  CHECK_FALSE(c.targets("blocks.3.xmlp.fc1"));
  c.r = 0;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("r must be >= 1"));
  CHECK_THROWS_WITH(lora({}).validate(), Catch::Contains("target_modules is empty"));
}

TEST_CASE("attach adapts matching Linears, keeps base names and freezes the rest", "[adapters][attach]") {
  GPT<float> model(tiny_gpt());
  const auto before = model.named_parameters();
  const auto paths = attach(model, lora({"q", "v", "fc1"}));
  CHECK(paths == std::vector<std::string>{"blocks.0.attn.q", "blocks.0.attn.v", "blocks.0.mlp.fc1",
                                          "blocks.1.attn.q", "blocks.1.attn.v", "blocks.1.mlp.fc1"});
  const auto state = model.state_dict();
  for (const auto& [name, p] : before) CHECK(state.count(name) == 1);  // base paths unchanged
  CHECK(state.at("blocks.1.attn.v.experts.default.lora_A").shape() == Shape{4, 8});
  CHECK(state.at("blocks.1.mlp.fc1.experts.default.lora_B").shape() == Shape{32, 4});
  CHECK(model.num_parameters(true) == 2 * (2 * (4 * 8 + 8 * 4) + (4 * 8 + 32 * 4)));
  CHECK(dynamic_cast<AdaptedLinear<float>*>(&model.blocks()[0].attn().q()) != nullptr);
}

TEST_CASE("an adapted layer with B = 0 equals its base exactly", "[adapters]") {
  GPT<float> model(tiny_gpt());
  std::vector<std::int32_t> ids = {1, 2, 3, 4, 5, 6, 7, 8};
  NoGrad no_graph;
  const auto base = model.forward(ids, 2, 4).to_vector();
  attach(model, lora({"q", "k", "v", "o", "fc1", "fc2", "head"}));
  CHECK(model.forward(ids, 2, 4).to_vector() == base);  // bit for bit
}

TEST_CASE("gradcheck: the fused op for x, A, B of two experts and the combiner weights", "[adapters][gradcheck]") {
  Rng rng(1);
  Linear<double> base(5, 4, true, rng);
  AdaptedLinear<double> layer(base);
  LoraConfig c2 = lora({"x"}, 2), c3 = lora({"x"}, 3);
  c3.alpha = 3;
  layer.add_expert("t1", c2, rng);
  layer.add_expert("t2", c3, rng);
  randomise_b(layer, rng);
  auto x = everlora_test::random_input({2, 3, 5}, rng);
  const auto& e1 = layer.experts()[0];
  const auto& e2 = layer.experts()[1];
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck([&](const Inputs& in) { return layer.forward(in[0]); },
                                                   {x, e1.a(), e1.b(), e2.a(), e2.b()}));
  auto weights = std::make_shared<FixedWeights<double>>(everlora_test::random_input({6, 2}, rng));
  layer.set_combiner(weights);
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck([&](const Inputs& in) { return layer.forward(in[0]); },
                                                   {x, e1.a(), e1.b(), e2.a(), e2.b(), weights->w()}));
}

TEST_CASE("the fused op with the rank activations given equals it without, in values and gradients", "[adapters][gradcheck]") {
  // AM-LoRA's mixer hands the op U = x̃·A_stackᵀ from its own graph; dX̃ and dA then flow through it.
  Rng rng(8);
  const auto x = everlora_test::random_input({6, 5}, rng), xa = everlora_test::random_input({6, 5}, rng);
  const auto w = everlora_test::random_input({4, 5}, rng), bias = everlora_test::random_input({4}, rng);
  const auto a1 = everlora_test::random_input({2, 5}, rng), a2 = everlora_test::random_input({3, 5}, rng);
  const auto b1 = everlora_test::random_input({4, 2}, rng), b2 = everlora_test::random_input({4, 3}, rng);
  const auto coef = everlora_test::random_input({6, 2}, rng);
  const std::vector<double> scales{0.5, 2.0};
  const auto fused = [&](const Inputs& in, bool given) {
    const std::vector<Tensor<double>> as{in[2], in[3]}, bs{in[4], in[5]};
    const Tensor<double> u = given ? matmul_nt(in[1], concat(as, 0)) : Tensor<double>();
    return lora_linear(in[0], in[1], w, bias, as, bs, scales, in[6], u);
  };
  Inputs inputs{x, xa, a1, a2, b1, b2, coef};
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck([&](const Inputs& in) { return fused(in, true); }, inputs));
  const auto values_and_gradients = [&](bool given) {
    for (auto& t : inputs) t.zero_grad();
    const Tensor<double> y = fused(inputs, given);
    sum(y * y).backward();
    std::vector<double> out = y.to_vector();
    for (const auto& t : inputs) {
      const auto g = t.grad().to_vector();
      out.insert(out.end(), g.begin(), g.end());
    }
    return out;
  };
  const auto with_u = values_and_gradients(true), without = values_and_gradients(false);
  REQUIRE(with_u.size() == without.size());
  for (std::size_t i = 0; i < with_u.size(); ++i) CHECK(with_u[i] == Approx(without[i]).epsilon(1e-12));
  const std::vector<Tensor<double>> as{a1, a2}, bs{b1, b2};
  CHECK_THROWS_WITH(lora_linear(x, xa, w, bias, as, bs, scales, coef, Tensor<double>::zeros({6, 4})),
                    Catch::Contains("rank activations [6, 4] are not [6, 5]"));
}

TEST_CASE("gradcheck: adapter dropout feeds the experts only", "[adapters][gradcheck]") {
  Rng rng(2);
  Linear<double> base(4, 3, false, rng);
  AdaptedLinear<double> layer(base, /*dropout_seed=*/5);
  LoraConfig c = lora({"x"}, 2);
  c.dropout = 0.4;
  layer.add_expert("default", c, rng);
  auto x = everlora_test::random_input({3, 4}, rng);
  {  // B = 0: the base path sees x undropped, so the output is the base's exactly.
    NoGrad no_graph;
    CHECK(layer.forward(x).to_vector() == base.forward(x).to_vector());
  }
  randomise_b(layer, rng);
  const auto& e = layer.experts()[0];
  const std::uint64_t state = layer.dropout_rng().state();
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck(
      [&](const Inputs& in) {
        layer.dropout_rng().set_state(state);  // the same mask at every evaluation
        return layer.forward(in[0]);
      },
      {x, e.a(), e.b()}));
  layer.eval();  // no dropout in eval mode: a different output than in training
  layer.dropout_rng().set_state(state);
  const auto eval_out = layer.forward(x).to_vector();
  layer.train();
  layer.dropout_rng().set_state(state);
  CHECK(layer.forward(x).to_vector() != eval_out);
}

TEST_CASE("the dense ΔW path of a non-identity gate equals the low-rank path", "[adapters][gates]") {
  Rng rng(3);
  Linear<double> base(6, 4, true, rng);
  AdaptedLinear<double> layer(base);
  layer.add_expert("a", lora({"x"}, 2), rng);
  layer.add_expert("b", lora({"x"}, 3), rng);
  randomise_b(layer, rng);
  auto x = everlora_test::random_input({5, 6}, rng);
  const auto fast = layer.forward(x).to_vector();
  layer.set_gate(std::make_shared<DenseIdentity<double>>());
  const auto dense = layer.forward(x);
  for (Index i = 0; i < dense.numel(); ++i) CHECK(dense[i] == Approx(fast[static_cast<std::size_t>(i)]).margin(1e-12));
  const auto& e = layer.experts()[1];
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck([&](const Inputs& in) { return layer.forward(in[0]); },
                                                   {x, e.a(), e.b()}));
}

TEST_CASE("frozen experts and the base stay bit-identical while a new expert trains", "[adapters]") {
  GPT<float> model(tiny_gpt());
  attach(model, lora({"q", "v"}), "task1");
  const std::vector<std::int32_t> ids = {1, 2, 3, 4, 5, 6, 7, 8}, targets = {2, 3, 4, 5, 6, 7, 8, 9};
  auto train = [&](int steps) {
    AdamW<float> optimizer(model.named_parameters());
    for (int s = 0; s < steps; ++s) {
      auto loss = cross_entropy(model.forward(ids, 2, 4), targets);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
    }
  };
  train(3);
  attach(model, lora({"q", "v"}), "task2");
  for (auto& [path, layer] : adapted_layers(model)) layer->experts().get("task1").set_trainable(false);
  StateDict<float> snapshot;
  for (auto& [name, t] : model.state_dict())
    if (name.find("task2") == std::string::npos) snapshot.emplace(name, t.clone());
  train(3);
  const auto after = model.state_dict();
  for (const auto& [name, t] : snapshot) {
    INFO(name);
    CHECK(after.at(name).to_vector() == t.to_vector());
  }
  CHECK(after.at("blocks.0.attn.q.experts.task2.lora_B").vec().norm() > 0);  // task2 did train
  CHECK_FALSE(model.blocks()[0].attn().q().weight().has_grad());  // no buffer for the frozen base
}

TEST_CASE("merge equals the unmerged forward, unmerge restores W0, merge_and_unload leaves Linears", "[adapters][merge]") {
  GPT<float> model(tiny_gpt());
  attach(model, lora({"q", "fc2"}));
  Rng rng(7);
  for (auto& [path, layer] : adapted_layers(model))
    layer->experts()[0].b().vec() = Tensor<float>::normal(layer->experts()[0].b().shape(), rng, 0, 0.5f).vec();
  const std::vector<std::int32_t> ids = {3, 1, 4, 1, 5, 9};
  NoGrad no_graph;
  const auto unmerged = model.forward(ids, 1, 6);
  const auto w0 = model.blocks()[1].attn().q().weight().clone();
  for (auto& [path, layer] : adapted_layers(model)) layer->merge();
  const auto merged = model.forward(ids, 1, 6);
  for (Index i = 0; i < merged.numel(); ++i) REQUIRE(merged[i] == Approx(unmerged[i]).margin(1e-5));
  for (auto& [path, layer] : adapted_layers(model)) layer->unmerge();
  const auto& w = model.blocks()[1].attn().q().weight();
  for (Index i = 0; i < w.numel(); ++i) REQUIRE(w[i] == Approx(w0[i]).margin(1e-6));
  merge_and_unload(model);
  CHECK(adapted_layers(model).empty());
  CHECK(std::string(model.blocks()[0].attn().q().type_name()) == "Linear");
  const auto unloaded = model.forward(ids, 1, 6);
  for (Index i = 0; i < unloaded.numel(); ++i) REQUIRE(unloaded[i] == Approx(unmerged[i]).margin(1e-5));
}

TEST_CASE("merge_expert folds one finished expert and keeps the others", "[adapters][merge]") {
  Rng rng(8);
  Linear<double> base(4, 3, true, rng);
  AdaptedLinear<double> layer(base);
  layer.add_expert("old", lora({"x"}, 2), rng);
  layer.add_expert("new", lora({"x"}, 2), rng);
  randomise_b(layer, rng);
  auto x = Tensor<double>::normal({5, 4}, rng, 0, 1);
  const auto before = layer.forward(x);
  layer.merge_expert("old");
  CHECK(layer.experts().names() == std::vector<std::string>{"new"});
  const auto after = layer.forward(x);
  for (Index i = 0; i < after.numel(); ++i) CHECK(after[i] == Approx(before[i]).margin(1e-12));
}

TEST_CASE("adapter errors name the targets, layers and experts", "[adapters][errors]") {
  GPT<float> model(tiny_gpt());
  CHECK_THROWS_WITH(attach(model, lora({"query"})),
                    Catch::Contains("[query] match no Linear") && Catch::Contains("blocks.0.attn.q"));
  CHECK_THROWS_WITH(attach(model, lora({"attn"})), Catch::Contains("'blocks.0.attn' is a CausalSelfAttention"));
  attach(model, lora({"q"}));
  CHECK_THROWS_WITH(attach(model, lora({"q"})), Catch::Contains("'default' already exists"));
  auto& q = dynamic_cast<AdaptedLinear<float>&>(model.blocks()[0].attn().q());
  CHECK_THROWS_WITH(q.unmerge(), Catch::Contains("without merge"));
  CHECK_THROWS_WITH(q.experts().get("task9"), Catch::Contains("no expert 'task9'") && Catch::Contains("default"));
  q.set_combiner(std::make_shared<FixedWeights<float>>(Tensor<float>::ones({6, 1})));
  CHECK_THROWS_WITH(q.merge(), Catch::Contains("FixedWeights combiner"));
}
