// GPT against PyTorch, the KV cache against the full forward, and decoding.
#include <catch2/catch.hpp>

#include <cmath>

#include "everlora/nn.hpp"
#include "support/golden.hpp"
#include "support/fixtures.hpp"

using namespace everlora;

namespace {

const everlora_test::GoldenFile& gpt_golden() {
  static const auto file = everlora_test::load_golden(EVERLORA_TEST_FIXTURES_DIR "/gpt_golden.txt");
  return file;
}

/// A double GPT shaped and loaded like the golden case.
std::unique_ptr<GPT<double>> golden_model(const everlora_test::GoldenCase& c) {
  GPTConfig config;
  config.vocab_size = c.int_param("vocab_size");
  config.context = c.int_param("context");
  config.d_model = c.int_param("d_model");
  config.n_layers = c.int_param("n_layers");
  config.n_heads = c.int_param("n_heads");
  auto model = std::make_unique<GPT<double>>(config);
  StateDict<double> state;
  for (const auto& [name, g] : c.in) {
    Shape s;
    for (long d : g.shape) s.push_back(d);
    state.emplace(name, Tensor<double>::from_vector(s, g.values));
  }
  model->load_state_dict(state);  // strict: the golden file names every parameter
  return model;
}

void check_close(const Tensor<double>& actual, const everlora_test::GoldenTensor& expected,
                 const std::string& what) {
  INFO(what);
  REQUIRE(actual.numel() == expected.numel());
  double worst = 0;
  for (Index i = 0; i < actual.numel(); ++i)
    worst = std::max(worst, std::abs(actual[i] - expected.values[static_cast<std::size_t>(i)]));
  CHECK(worst < 1e-10);
}

GPTConfig small_config() { return everlora_test::tiny_gpt_config(20, 16, 16, 2, 4, /*seed=*/3); }

}  // namespace

TEST_CASE("GPT logits and parameter gradients match PyTorch", "[nn][gpt][golden]") {
  const auto& c = everlora_test::golden_case(gpt_golden(), "gpt_logits");
  auto model = golden_model(c);
  const auto ids = c.integer("ids").as<std::int32_t>();
  const Tensor<double> logits = model->forward(ids, c.integer("ids").shape[0], c.integer("ids").shape[1]);
  check_close(logits, c.output(), "logits");
  Shape ws;
  for (long d : c.weight.shape) ws.push_back(d);
  logits.backward(Tensor<double>::from_vector(ws, c.weight.values));
  for (const auto& [name, p] : model->named_parameters()) check_close(p.grad(), c.gradient(name), "grad of " + name);
}

TEST_CASE("GPT cross-entropy loss and its gradients match PyTorch", "[nn][gpt][golden]") {
  const auto& c = everlora_test::golden_case(gpt_golden(), "gpt_loss");
  auto model = golden_model(c);
  const auto& ids = c.integer("ids");
  const Tensor<double> loss = cross_entropy(model->forward(ids.as<std::int32_t>(), ids.shape[0], ids.shape[1]),
                                            c.integer("targets").as<std::int32_t>());
  check_close(loss, c.output(), "loss");
  loss.backward(Tensor<double>::scalar(c.weight.values.at(0)));  // the golden grads are of w·loss
  for (const auto& [name, p] : model->named_parameters()) check_close(p.grad(), c.gradient(name), "grad of " + name);
}

TEST_CASE("decoding with the KV cache equals the full forward pass", "[nn][gpt]") {
  GPT<double> model(small_config());
  NoGrad no_graph;
  const std::vector<std::int32_t> ids = {3, 1, 4, 1, 5, 9, 2, 6};
  const Tensor<double> full = model.forward(ids, 1, 8);
  KvCache<double> cache;
  Tensor<double> prefix = model.forward({3, 1, 4}, 1, 3, &cache);  // a prompt, then one at a time
  CHECK(cache.length == 3);
  for (Index i = 0; i < prefix.numel(); ++i) REQUIRE(prefix[i] == Approx(full[i]).margin(1e-12));
  for (std::size_t t = 3; t < ids.size(); ++t) {
    const Tensor<double> step = model.forward({ids[t]}, 1, 1, &cache);
    for (Index v = 0; v < 20; ++v)
      REQUIRE(step[v] == Approx(full[static_cast<Index>(t) * 20 + v]).margin(1e-12));
  }
  CHECK(cache.length == 8);
}

TEST_CASE("greedy decoding picks the argmax of the full forward at every step", "[nn][gpt][generate]") {
  GPT<double> model(small_config());
  Rng rng(1);
  GenerateOptions greedy;
  greedy.greedy = true;
  greedy.max_new_tokens = 6;
  const std::vector<std::int32_t> prompt = {2, 7};
  const auto out = generate(model, prompt, greedy, rng);
  REQUIRE(out.size() == 6);
  std::vector<std::int32_t> seq = prompt;
  NoGrad no_graph;
  for (std::int32_t next : out) {
    const Tensor<double> logits = model.forward(seq, 1, static_cast<Index>(seq.size()));
    const double* last = logits.data() + (static_cast<Index>(seq.size()) - 1) * 20;
    CHECK(next == std::max_element(last, last + 20) - last);
    seq.push_back(next);
  }
}

TEST_CASE("sampling is reproducible, top-k 1 is greedy, and decoding stops where it must", "[nn][gpt][generate]") {
  GPT<float> model(small_config());
  GenerateOptions sample;
  sample.temperature = 1.5;
  sample.max_new_tokens = 10;
  Rng a(42), b(42);
  CHECK(generate(model, {1}, sample, a) == generate(model, {1}, sample, b));
  GenerateOptions top1 = sample, greedy = sample;
  top1.top_k = 1;
  greedy.greedy = true;
  Rng c(7);
  CHECK(generate(model, {1, 2}, top1, c) == generate(model, {1, 2}, greedy, c));
  // The context (16) bounds the output: 13 tokens fill it, and the logits of its last position
  // still give a 14th. A stop id ends decoding early and is not returned.
  greedy.max_new_tokens = 100;
  CHECK(generate(model, {1, 2, 3}, greedy, c).size() == 14);
  const auto free_run = generate(model, {1}, greedy, c);
  greedy.stop_id = free_run[2];
  const auto stopped = generate(model, {1}, greedy, c);
  CHECK(stopped.size() <= 2);
  CHECK(model.training());  // the caller's mode is restored
  CHECK_THROWS_AS(generate(model, {}, greedy, c), Error);
}

TEST_CASE("GPT-2 initialisation: N(0, 0.02), smaller residual projections, zero biases", "[nn][gpt]") {
  GPTConfig config = small_config();
  config.d_model = 64;
  config.n_layers = 4;
  GPT<double> model(config);
  auto stddev = [](const Tensor<double>& t) { return std::sqrt(t.vec().squaredNorm() / double(t.numel())); };
  const auto state = model.state_dict();
  CHECK(stddev(state.at("blocks.0.mlp.fc1.weight")) == Approx(0.02).epsilon(0.05));
  CHECK(stddev(state.at("wte.weight")) == Approx(0.02).epsilon(0.1));
  CHECK(stddev(state.at("blocks.2.attn.o.weight")) == Approx(0.02 / std::sqrt(8.0)).epsilon(0.1));
  CHECK(state.at("blocks.1.attn.q.bias").vec().isZero());
  CHECK(state.at("ln_f.weight").vec().isOnes());
}

TEST_CASE("GPT reports each block's hidden state and rejects ids past the context", "[nn][gpt]") {
  GPT<float> model(small_config());
  std::vector<Tensor<float>> hidden;
  std::vector<std::int32_t> ids(2 * 5, 1);
  model.forward(ids, 2, 5, nullptr, &hidden);
  REQUIRE(hidden.size() == 2);
  CHECK(hidden[1].shape() == Shape{2, 5, 16});
  CHECK_THROWS_WITH(model.forward(std::vector<std::int32_t>(17, 1), 1, 17), Catch::Contains("context of 16"));
  CHECK_THROWS_WITH(model.forward(ids, 3, 5), Catch::Contains("[3, 5]"));
  CHECK_THROWS_WITH(model.forward({25}, 1, 1), Catch::Contains("id 25"));
}
