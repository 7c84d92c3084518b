// End to end: a least-squares fit y = X·w* trained with matmul + mse_loss, backward, gradient
// clipping, a warm-up + cosine schedule and each optimizer, converges to w*.
#include <catch2/catch.hpp>

#include <memory>

#include "everlora/core.hpp"
#include "everlora/optim.hpp"

using namespace everlora;

namespace {

struct Problem {
  Tensor<float> x, y, w_true;
};

Problem least_squares() {
  Rng rng(123);
  Problem p;
  p.x = Tensor<float>::normal({64, 3}, rng, 0.0f, 1.0f);
  p.w_true = Tensor<float>::from_vector({3, 1}, {1.5f, -2.0f, 0.5f});
  {
    NoGrad no_graph;
    p.y = matmul(p.x, p.w_true);
  }
  return p;
}

/// Trains w from zero for `steps` steps; returns the final loss.
float fit(Optimizer<float>& opt, const Problem& prob, Tensor<float>& w, long steps,
          const LrSchedule& schedule) {
  float last = 0;
  for (long s = 0; s < steps; ++s) {
    opt.zero_grad();
    Tensor<float> loss = mse_loss(matmul(prob.x, w), prob.y);
    loss.backward();
    clip_grad_norm(opt, 5.0);
    opt.set_lr(schedule(opt.step_count()));
    opt.step();
    last = loss.item();
  }
  return last;
}

}  // namespace

TEST_CASE("AdamW with a schedule and clipping fits least squares", "[optim][training]") {
  const Problem prob = least_squares();
  auto w = Tensor<float>::zeros({3, 1});
  w.requires_grad_();
  AdamWOptions o;
  o.weight_decay = 0.0;
  AdamW<float> opt({{"w", w}}, o);
  const float first = mse_loss(matmul(prob.x, w), prob.y).item();
  const float last = fit(opt, prob, w, 400, WarmupCosine(0.1, 20, 400, 1e-4));
  CHECK(opt.step_count() == 400);
  CHECK(last < 1e-6f * first);
  for (Index i = 0; i < 3; ++i) CHECK(w[i] == Approx(prob.w_true[i]).margin(1e-3));
}

TEST_CASE("SGD with Nesterov momentum fits least squares", "[optim][training]") {
  const Problem prob = least_squares();
  auto w = Tensor<float>::zeros({3, 1});
  w.requires_grad_();
  SGDOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  o.nesterov = true;
  SGD<float> opt(std::vector<Tensor<float>>{w}, o);
  const float last = fit(opt, prob, w, 200, ConstantLr(0.1));
  CHECK(last < 1e-8f);
  for (Index i = 0; i < 3; ++i) CHECK(w[i] == Approx(prob.w_true[i]).margin(1e-4));
}
