// clip_grad_norm: the global L2 norm over all gradients, hand-computed, and PyTorch's scaling
// max_norm / (norm + 1e-6) applied only when the norm is above max_norm.
#include <catch2/catch.hpp>

#include <cmath>

#include "everlora/core.hpp"
#include "everlora/optim.hpp"
#include "optim_helpers.hpp"

using namespace everlora;
using everlora_test::param;
using everlora_test::set_grad;

TEMPLATE_TEST_CASE("clip_grad_norm scales all gradients by one factor above max_norm",
                   "[optim][clip]", float, double) {
  using T = TestType;
  auto a = param<T>({2, 2}, {0, 0, 0, 0});
  auto b = param<T>({1}, {0});
  auto c = param<T>({3}, {0, 0, 0});  // no gradient: skipped
  set_grad(a, {T(1), T(2), T(2), T(4)});  // ‖a‖² = 1 + 4 + 4 + 16 = 25
  set_grad(b, {T(-12)});                  // ‖b‖² = 144
  // ‖g‖ = sqrt(25 + 144) = 13; coefficient 6.5 / (13 + 1e-6) ≈ 0.5
  const double norm = clip_grad_norm(std::vector<Tensor<T>>{a, b, c}, 6.5);
  CHECK(norm == Approx(13.0).epsilon(1e-12));
  const double coef = 6.5 / (13.0 + 1e-6);
  const double tol = std::is_same<T, float>::value ? 1e-6 : 1e-14;
  CHECK(double(a.grad()[3]) == Approx(4 * coef).margin(tol));
  CHECK(double(b.grad()[0]) == Approx(-12 * coef).margin(tol));
  CHECK_FALSE(c.has_grad());

  // Now ‖g‖ = 6.5·13/(13 + 1e-6) ≈ 6.5 < 7: returned, nothing scaled.
  const auto before = a.grad().to_vector();
  const double again = clip_grad_norm(std::vector<Tensor<T>>{a, b, c}, 7.0);
  CHECK(again == Approx(13 * coef).epsilon(1e-6));
  CHECK(a.grad().to_vector() == before);
}

TEST_CASE("clip_grad_norm works on named parameters and an optimizer's parameters", "[optim][clip]") {
  auto w = param<double>({2}, {1, 1});
  set_grad(w, {3.0, 4.0});  // norm 5
  SGD<double> opt({{"w", w}});
  CHECK(clip_grad_norm(opt, 1.0) == Approx(5.0));
  CHECK(w.grad()[0] == Approx(3.0 / (5.0 + 1e-6)));
  CHECK(w.grad()[1] == Approx(4.0 / (5.0 + 1e-6)));
  const std::vector<std::pair<std::string, Tensor<double>>> named{{"w", w}};
  CHECK(clip_grad_norm(named, 10.0) == Approx(1.0).epsilon(1e-6));
}

TEST_CASE("clip_grad_norm with no gradients returns 0, and a non-finite norm is left alone",
          "[optim][clip]") {
  auto w = param<float>({2}, {1, 1});
  CHECK(clip_grad_norm(std::vector<Tensor<float>>{w}, 1.0) == 0.0);
  set_grad(w, {std::nanf(""), 1.0f});
  CHECK(std::isnan(clip_grad_norm(std::vector<Tensor<float>>{w}, 1.0)));
  CHECK(w.grad()[1] == 1.0f);
}

TEST_CASE("clip_grad_norm rejects a max_norm that is not positive", "[optim][clip][errors]") {
  auto w = param<float>({1}, {1});
  try {
    clip_grad_norm(std::vector<Tensor<float>>{w}, 0.0);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::Contains("max_norm"));
  }
}
