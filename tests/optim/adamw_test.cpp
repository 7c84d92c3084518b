// AdamW against hand-computed updates: two elements, three steps, with hyperparameters chosen so
// the intermediate values are short decimals (lr 0.1, β1 0.5, β2 0.75, ε 0.01, λ 0.2). Per step,
// from torch.optim.AdamW's formulas:
//   p = p·(1 − lr·λ);  m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²
//   m̂ = m / (1 − β1ⁿ);  v̂ = v / (1 − β2ⁿ);  p = p − lr·m̂ / (√v̂ + ε)
#include <catch2/catch.hpp>

#include "everlora/core.hpp"
#include "everlora/optim.hpp"
#include "optim_helpers.hpp"

using namespace everlora;
using everlora_test::param;
using everlora_test::set_grad;

TEMPLATE_TEST_CASE("AdamW matches the hand-computed bias-corrected update", "[optim][adamw]", float,
                   double) {
  using T = TestType;
  const double margin = std::is_same<T, float>::value ? 2e-6 : 1e-14;
  auto p = param<T>({2}, {T(1), T(-2)});
  AdamWOptions o;
  o.lr = 0.1;
  o.beta1 = 0.5;
  o.beta2 = 0.75;
  o.eps = 0.01;
  o.weight_decay = 0.2;
  AdamW<T> opt(std::vector<Tensor<T>>{p}, o);

  // Step 1, g = [0.5, -1]. Decay: p·0.98 = [0.98, -1.96].
  //   m = [0.25, -0.5], v = [0.0625, 0.25]; m̂ = m/0.5 = [0.5, -1], v̂ = v/0.25 = [0.25, 1]
  //   p = [0.98 - 0.1·0.5/(0.5 + 0.01), -1.96 + 0.1·1/(1 + 0.01)] = [0.88196078…, -1.86099009…]
  set_grad(p, {T(0.5), T(-1)});
  opt.step();
  CHECK(double(p[0]) == Approx(0.98 - 0.05 / 0.51).margin(margin));
  CHECK(double(p[1]) == Approx(-1.96 + 0.1 / 1.01).margin(margin));
  CHECK(double(p[0]) == Approx(0.8819607843137255).margin(margin));
  CHECK(double(p[1]) == Approx(-1.8609900990099009).margin(margin));

  // Step 2, g = [1, 0.5]. m = [0.625, 0], v = [0.296875, 0.25]
  //   m̂ = m/0.75 = [0.8333…, 0], v̂ = v/0.4375 = [0.678571…, 0.571428…]
  //   p = 0.98·p1 − 0.1·m̂/(√v̂ + 0.01): element 1 only decays (m̂ = 0)
  set_grad(p, {T(1), T(0.5)});
  opt.step();
  CHECK(double(p[0]) == Approx(0.98 * 0.8819607843137255 -
                               0.1 * (0.625 / 0.75) / (std::sqrt(0.296875 / 0.4375) + 0.01))
                            .margin(margin));
  CHECK(double(p[1]) == Approx(0.98 * -1.8609900990099009).margin(margin));
  CHECK(double(p[0]) == Approx(0.7643720796266964).margin(margin));
  CHECK(double(p[1]) == Approx(-1.8237702970297027).margin(margin));

  // Step 3, g = [-2, 0.25]. m = [-0.6875, 0.125], v = [1.22265625, 0.203125]
  //   m̂ = m/0.875 = [-0.785714…, 0.142857…], v̂ = v/0.578125 = [2.114864…, 0.351351…]
  set_grad(p, {T(-2), T(0.25)});
  opt.step();
  CHECK(double(p[0]) == Approx(0.8027442086919957).margin(margin));
  CHECK(double(p[1]) == Approx(-1.8109958259699828).margin(margin));

  const auto state = opt.state_dict();
  CHECK(double(state.at("exp_avg.0")[0]) == Approx(-0.6875).margin(margin));
  CHECK(double(state.at("exp_avg.0")[1]) == Approx(0.125).margin(margin));
  CHECK(double(state.at("exp_avg_sq.0")[0]) == Approx(1.22265625).margin(margin));
  CHECK(double(state.at("exp_avg_sq.0")[1]) == Approx(0.203125).margin(margin));
  CHECK(state.at("step").item() == T(3));
  CHECK(state.at("step.0").item() == T(3));
}

TEST_CASE("AdamW without weight decay is Adam, and a zero lr changes nothing", "[optim][adamw]") {
  auto p = param<double>({3}, {1, 2, 3});
  AdamWOptions o;
  o.lr = 0.0;
  AdamW<double> opt({{"p", p}}, o);
  set_grad(p, {1.0, -1.0, 0.5});
  opt.step();
  CHECK(p.to_vector() == std::vector<double>{1, 2, 3});
  // First Adam step with wd 0: m̂ = g, v̂ = g², so p moves by lr·g/(|g| + ε) ≈ lr·sign(g).
  opt.set_lr(0.01);
  auto q = param<double>({3}, {1, 2, 3});
  AdamWOptions o2;
  o2.lr = 0.01;
  o2.weight_decay = 0.0;
  AdamW<double> adam({{"q", q}}, o2);
  set_grad(q, {1.0, -1.0, 0.5});
  adam.step();
  CHECK(q[0] == Approx(1 - 0.01 * 1.0 / (1.0 + 1e-8)).epsilon(1e-15));
  CHECK(q[1] == Approx(2 + 0.01 * 1.0 / (1.0 + 1e-8)).epsilon(1e-15));
  CHECK(q[2] == Approx(3 - 0.01 * 0.5 / (0.5 + 1e-8)).epsilon(1e-15));
}
