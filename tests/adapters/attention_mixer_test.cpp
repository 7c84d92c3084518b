// AttentionMixer (AM-LoRA's combiner): gradients through every gate function, the forward pass
// against a hand computation, the null expert, a fresh expert's neutral gate, and the statistics.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>

#include "everlora/adapters.hpp"
#include "support/gradcheck.hpp"

using namespace everlora;

namespace {

LoraConfig mixer_test_lora(Index r) {
  LoraConfig c;
  c.r = r;
  c.alpha = 2.0 * static_cast<double>(r);  // s = 2
  c.target_modules = {"x"};
  c.seed = 3;
  return c;
}

/// A 5 → 4 layer with three experts of random A and B under a mixer of `config`.
struct MixedLayer {
  Rng rng{21};
  Linear<double> base{5, 4, true, rng};
  AdaptedLinear<double> layer{base};
  std::shared_ptr<AttentionMixer<double>> mixer;

  explicit MixedLayer(const AttentionMixerConfig& config) {
    for (const char* name : {"t1", "t2", "t3"}) layer.add_expert(name, mixer_test_lora(2), rng);
    for (std::size_t e = 0; e < layer.experts().size(); ++e)
      layer.experts()[e].b().vec() = Tensor<double>::normal(layer.experts()[e].b().shape(), rng, 0, 1).vec();
    mixer = std::make_shared<AttentionMixer<double>>(5, 4, config, rng);
    layer.set_combiner(mixer);
  }
  std::vector<Tensor<double>> parameters() {
    std::vector<Tensor<double>> p{mixer->wq(), mixer->wk()};
    for (std::size_t e = 0; e < layer.experts().size(); ++e) {
      p.push_back(layer.experts()[e].a());
      p.push_back(layer.experts()[e].b());
    }
    return p;
  }
};

}  // namespace

TEST_CASE("gradcheck: the AttentionMixer layer for x, Wq, Wk and every A and B", "[adapters][gradcheck][am_lora]") {
  for (const GateFunction gate : {GateFunction::sigmoid, GateFunction::softmax, GateFunction::sparsemax})
    for (const bool null_expert : {false, true}) {
      INFO(to_string(gate) << (null_expert ? " with" : " without") << " the null expert");
      AttentionMixerConfig config;
      config.attention_dim = 3;
      config.gate = gate;
      config.null_expert = null_expert;
      MixedLayer m(config);
      std::vector<Tensor<double>> inputs{everlora_test::random_input({2, 3, 5}, m.rng)};
      for (const auto& p : m.parameters()) inputs.push_back(p);
      EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck(
          [&](const std::vector<Tensor<double>>& in) { return m.layer.forward(in[0]); }, inputs));
    }
}

TEST_CASE("AttentionMixer's forward equals the formula computed by hand", "[adapters][am_lora]") {
  AttentionMixerConfig config;
  config.attention_dim = 2;
  MixedLayer m(config);
  Rng rng(5);
  const Tensor<double> x = Tensor<double>::uniform({3, 5}, rng, -1, 1);
  const Tensor<double> y = m.layer.forward(x);
  const auto& wq = m.mixer->wq();  // [2, 5]
  const auto& wk = m.mixer->wk();  // [4, 2]
  for (Index row = 0; row < 3; ++row) {
    const double* xr = x.data() + row * 5;
    std::vector<double> expected(4);
    for (Index o = 0; o < 4; ++o) {
      expected[static_cast<std::size_t>(o)] = m.base.bias()[o];
      for (Index i = 0; i < 5; ++i) expected[static_cast<std::size_t>(o)] += m.base.weight()[o * 5 + i] * xr[i];
    }
    double q[2] = {0, 0};
    for (Index d = 0; d < 2; ++d)
      for (Index i = 0; i < 5; ++i) q[d] += wq[d * 5 + i] * xr[i];
    for (std::size_t e = 0; e < 3; ++e) {
      const auto& a = m.layer.experts()[e].a();  // [2, 5]
      const auto& b = m.layer.experts()[e].b();  // [4, 2]
      double u[2] = {0, 0}, out[4] = {0, 0, 0, 0}, key[2] = {0, 0};
      for (Index j = 0; j < 2; ++j)
        for (Index i = 0; i < 5; ++i) u[j] += a[j * 5 + i] * xr[i];
      for (Index o = 0; o < 4; ++o) out[o] = 2.0 * (b[o * 2] * u[0] + b[o * 2 + 1] * u[1]);  // e_i, s = 2
      for (Index d = 0; d < 2; ++d)
        for (Index o = 0; o < 4; ++o) key[d] += out[o] * wk[o * 2 + d];
      const double score = (q[0] * key[0] + q[1] * key[1]) / std::sqrt(2.0);
      const double gate = 1.0 / (1.0 + std::exp(-score));
      CHECK(m.mixer->last_gates()[row * 3 + static_cast<Index>(e)] == Approx(gate));
      for (Index o = 0; o < 4; ++o) expected[static_cast<std::size_t>(o)] += gate * out[o];
    }
    for (Index o = 0; o < 4; ++o) CHECK(y[row * 4 + o] == Approx(expected[static_cast<std::size_t>(o)]));
  }
}

TEST_CASE("A fresh expert (B = 0) scores 0: its sigmoid gate is one half", "[adapters][am_lora]") {
  AttentionMixerConfig config;
  MixedLayer m(config);
  m.layer.add_expert("t4", mixer_test_lora(2), m.rng);
  Rng rng(6);
  m.layer.forward(Tensor<double>::uniform({4, 5}, rng, -1, 1));
  const auto& g = m.mixer->last_gates();
  REQUIRE(g.shape() == Shape{4, 4});
  for (Index row = 0; row < 4; ++row) CHECK(g[row * 4 + 3] == 0.5);
}

TEST_CASE("The null expert takes weight from the others under softmax and sparsemax", "[adapters][am_lora]") {
  for (const GateFunction gate : {GateFunction::softmax, GateFunction::sparsemax}) {
    INFO(to_string(gate));
    AttentionMixerConfig config;
    config.gate = gate;
    config.null_expert = true;
    MixedLayer m(config);
    // Zero keys: every score is 0, the null expert's too, so the K + 1 weights are equal.
    m.mixer->wk().vec().setZero();
    Rng rng(7);
    m.layer.forward(Tensor<double>::uniform({2, 5}, rng, -1, 1));
    const auto& g = m.mixer->last_gates();
    REQUIRE(g.shape() == Shape{2, 3});
    for (Index i = 0; i < 6; ++i) CHECK(g[i] == Approx(0.25));
  }
}

TEST_CASE("Sparsemax gates give exact zeros, counted by the sparsity statistic", "[adapters][am_lora]") {
  AttentionMixerConfig config;
  config.gate = GateFunction::sparsemax;
  MixedLayer m(config);
  m.mixer->wq().vec() *= 50.0;  // large scores: sparsemax keeps one or two experts per row
  Rng rng(8);
  m.mixer->reset_stats();
  m.layer.forward(Tensor<double>::uniform({16, 5}, rng, -1, 1));
  const auto& g = m.mixer->last_gates();
  Index zeros = 0;
  for (Index i = 0; i < g.numel(); ++i) zeros += g[i] == 0.0 ? 1 : 0;
  CHECK(zeros > 0);
  const auto& stats = m.mixer->stats();
  CHECK(stats.rows == 16);
  CHECK(stats.sparsity() == Approx(static_cast<double>(zeros) / 48.0));
  double mean_sum = 0;
  for (std::size_t e = 0; e < 3; ++e) mean_sum += stats.mean_gate(e);
  CHECK(mean_sum == Approx(1.0));  // sparsemax rows sum to one
}

TEST_CASE("AttentionMixer rejects bad settings and names them", "[adapters][am_lora]") {
  Rng rng(9);
  AttentionMixerConfig config;
  config.attention_dim = 0;
  CHECK_THROWS_WITH(AttentionMixer<double>(5, 4, config, rng), Catch::Contains("attention_dim"));
  CHECK_THROWS_WITH(parse_gate_function("relu"), Catch::Contains("'relu'"));
  CHECK(parse_gate_function("sparsemax") == GateFunction::sparsemax);
  MixedLayer m(AttentionMixerConfig{});
  CHECK_THROWS_AS(m.layer.merge(), Error);  // input-dependent weights cannot be merged
}
