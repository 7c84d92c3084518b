// JumpLoRA's gate: the jump_gate op (gradient in x away from the threshold, the pseudo-derivative
// in ℓ on a constructed case), the budget-matched threshold, and the gated layer's gradients under
// Sum and under the AM-LoRA mixer.
#include <catch2/catch.hpp>

#include <memory>

#include "everlora/adapters.hpp"
#include "support/gradcheck.hpp"

using namespace everlora;

namespace {

LoraConfig jump_test_lora(Index r) {
  LoraConfig c;
  c.r = r;
  c.alpha = static_cast<double>(r);  // s = 1
  c.target_modules = {"x"};
  c.seed = 4;
  return c;
}

/// A 6 → 5 layer with two experts of random A and B under a JumpReLU gate whose thresholds sit
/// in the middle of the magnitudes (half of each ΔW survives), schedule weight `mix`.
struct GatedLayer {
  Rng rng{31};
  Linear<double> base{6, 5, true, rng};
  AdaptedLinear<double> layer{base};
  std::shared_ptr<JumpReLU<double>> gate = std::make_shared<JumpReLU<double>>();

  explicit GatedLayer(double mix) {
    layer.set_gate(gate);
    for (const char* name : {"t1", "t2"}) {
      auto& e = layer.add_expert(name, jump_test_lora(2), rng);
      e.b().vec() = Tensor<double>::normal(e.b().shape(), rng, 0, 1).vec();
      auto& th = gate->add_expert(name);
      th.set_threshold(budget_threshold(matmul(e.b(), e.a()), 15));
      th.mix = mix;
    }
  }
};

}  // namespace

TEST_CASE("gradcheck: jump_gate in x, away from the threshold", "[adapters][gradcheck][jump_lora]") {
  Rng rng(3);
  // Magnitudes in [0.02, 0.1) (dropped) and [0.2, 1) (kept), θ = 0.15: no entry near the jump.
  auto x = everlora_test::random_away_from_zero({4, 5}, rng, 0.2, 1.0);
  for (Index i = 0; i < x.numel(); i += 2) x[i] *= 0.1;
  Tensor<double> log_theta = Tensor<double>::full({1}, std::log(0.15));
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck(
      [&](const std::vector<Tensor<double>>& in) { return jump_gate(in[0], log_theta, 1e-3); }, {x}));
}

TEST_CASE("jump_gate's threshold gradient is the rectangle-kernel pseudo-derivative", "[adapters][jump_lora]") {
  // θ = 0.1, ε = 1e-3: entries 0.1004 and −0.0998 lie within ε/2 of θ, 0.5 and 0.02 do not.
  auto x = Tensor<double>::from_vector({4}, {0.1004, -0.0998, 0.5, 0.02}).requires_grad_();
  auto log_theta = Tensor<double>::full({1}, std::log(0.1)).requires_grad_();
  const Tensor<double> y = jump_gate(x, log_theta, 1e-3);
  CHECK(y.to_vector() == std::vector<double>{0.1004, 0, 0.5, 0});
  sum(y * Tensor<double>::from_vector({4}, {1, 2, 3, 4})).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{1, 0, 3, 0});  // straight through where kept
  // Σ over the window of −dy·sign(x)·θ/ε = −(1·0.1/1e-3) + (2·0.1/1e-3) = 100, averaged over the
  // 4 entries: ∂L/∂θ = 25, ∂L/∂ℓ = θ·25 = 2.5.
  CHECK(log_theta.grad()[0] == Approx(2.5));
}

TEST_CASE("The budget-matched threshold keeps exactly the intended number of entries", "[adapters][jump_lora]") {
  Rng rng(5);
  const Tensor<double> w = Tensor<double>::normal({16, 12}, rng, 0, 1);
  for (const Index keep : {Index(1), Index(7), Index(100), Index(191)}) {
    const double theta = budget_threshold(w, keep);
    Index kept = 0;
    for (Index i = 0; i < w.numel(); ++i) kept += std::abs(w[i]) > theta ? 1 : 0;
    CHECK(kept == keep);
  }
  CHECK(budget_threshold(w, 192) > 0.0);  // everything kept, θ still positive
  Index kept_all = 0;
  for (Index i = 0; i < w.numel(); ++i) kept_all += std::abs(w[i]) > budget_threshold(w, 500) ? 1 : 0;
  CHECK(kept_all == 192);
}

TEST_CASE("gradcheck: a JumpReLU-gated layer under Sum and under the AM-LoRA mixer", "[adapters][gradcheck][jump_lora]") {
  for (const double mix : {1.0, 0.4}) {
    INFO("schedule weight a = " << mix);
    GatedLayer g(mix);
    const auto& e1 = g.layer.experts()[0];
    const auto& e2 = g.layer.experts()[1];
    auto x = everlora_test::random_input({2, 3, 6}, g.rng);
    EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck(
        [&](const std::vector<Tensor<double>>& in) { return g.layer.forward(in[0]); }, {x, e1.a(), e1.b(), e2.a(), e2.b()}));
    AttentionMixerConfig config;
    config.attention_dim = 3;
    auto mixer = std::make_shared<AttentionMixer<double>>(6, 5, config, g.rng);
    g.layer.set_combiner(mixer);
    EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck([&](const std::vector<Tensor<double>>& in) { return g.layer.forward(in[0]); },
                                                     {x, e1.a(), e1.b(), e2.a(), e2.b(), mixer->wq(), mixer->wk()}));
  }
}

TEST_CASE("A gated layer adds exactly the masked updates, and merging it is exact", "[adapters][jump_lora]") {
  GatedLayer g(1.0);
  Rng rng(6);
  const Tensor<double> x = Tensor<double>::uniform({4, 6}, rng, -1, 1);
  NoGrad no_graph;
  const Tensor<double> y = g.layer.forward(x);
  Tensor<double> expected = g.base.forward(x);  // the base Linear shares W0 and b
  for (std::size_t e = 0; e < 2; ++e) {
    Tensor<double> masked = matmul(g.layer.experts()[e].b(), g.layer.experts()[e].a());
    const double theta = g.gate->threshold(g.layer.experts().names()[e]).threshold();
    Index kept = 0;
    for (Index i = 0; i < masked.numel(); ++i) {
      if (std::abs(masked[i]) <= theta) masked[i] = 0;
      kept += masked[i] != 0 ? 1 : 0;
    }
    CHECK(kept == 15);
    expected = expected + matmul_nt(x, masked);
  }
  for (Index i = 0; i < y.numel(); ++i) CHECK(y[i] == Approx(expected[i]).margin(1e-12));
  g.layer.merge();
  const Tensor<double> merged = g.layer.forward(x);
  for (Index i = 0; i < y.numel(); ++i) CHECK(merged[i] == Approx(y[i]).margin(1e-12));
}
