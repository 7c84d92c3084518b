// The autograd engine: accumulation, NoGrad, gradient buffers only where needed, graph release,
// seeds, and a gradient checker that really rejects wrong gradients.
#include <catch2/catch.hpp>

#include "everlora/core.hpp"
#include "support/gradcheck.hpp"

using namespace everlora;

TEST_CASE("gradients accumulate across backward calls until zero_grad", "[core][autograd]") {
  auto w = Tensor<double>::from_vector({2}, {1.0, 2.0}).requires_grad_();
  auto x = Tensor<double>::from_vector({2}, {3.0, 4.0});
  sum(w * x).backward();
  CHECK(w.grad().to_vector() == std::vector<double>{3.0, 4.0});
  sum(w * x).backward();
  CHECK(w.grad().to_vector() == std::vector<double>{6.0, 8.0});
  w.zero_grad();
  CHECK(w.grad().to_vector() == std::vector<double>{0.0, 0.0});
}

TEST_CASE("a tensor used twice receives both contributions", "[core][autograd]") {
  auto x = Tensor<double>::from_vector({3}, {1.0, -2.0, 0.5}).requires_grad_();
  sum(x * x + x).backward();  // d/dx (x² + x) = 2x + 1
  CHECK(x.grad().to_vector() == std::vector<double>{3.0, -3.0, 2.0});
}

TEST_CASE("gradient buffers exist only where requires_grad is set", "[core][autograd]") {
  auto w = Tensor<float>::ones({4, 3}).requires_grad_();
  auto frozen = Tensor<float>::ones({4, 3});
  auto x = Tensor<float>::ones({2, 4});
  auto h = matmul(x, frozen);
  auto y = sum(matmul(x, w) + h);
  CHECK_FALSE(h.requires_grad());
  CHECK(h.is_leaf());
  CHECK(y.requires_grad());
  y.backward();
  CHECK(w.has_grad());
  CHECK_FALSE(frozen.has_grad());
  CHECK_FALSE(x.has_grad());
}

TEST_CASE("NoGrad records nothing and restores the previous mode", "[core][autograd]") {
  auto w = Tensor<float>::ones({3}).requires_grad_();
  {
    NoGrad guard;
    CHECK_FALSE(grad_enabled());
    auto y = sum(w * w);
    CHECK_FALSE(y.requires_grad());
    CHECK_THROWS_AS(y.backward(), Error);
    {
      NoGrad nested;
    }
    CHECK_FALSE(grad_enabled());
  }
  CHECK(grad_enabled());
  CHECK(sum(w * w).requires_grad());
}

TEST_CASE("intermediate gradients are released unless retained", "[core][autograd]") {
  auto x = Tensor<double>::from_vector({2}, {1.0, 2.0}).requires_grad_();
  auto h = x * 3.0;
  auto kept = x * 2.0;
  kept.retain_grad();
  sum(h + kept).backward();
  CHECK_FALSE(h.has_grad());
  REQUIRE(kept.has_grad());
  CHECK(kept.grad().to_vector() == std::vector<double>{1.0, 1.0});
  CHECK(x.grad().to_vector() == std::vector<double>{5.0, 5.0});
}

TEST_CASE("backward frees the graph unless retain_graph", "[core][autograd]") {
  auto x = Tensor<double>::from_vector({2}, {1.0, 2.0}).requires_grad_();
  auto y = sum(exp(x));
  y.backward(/*retain_graph=*/true);
  y.backward();
  CHECK(x.grad()[0] == Approx(2 * std::exp(1.0)));
  try {
    y.backward();
    FAIL("a second pass through a freed graph must throw");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::autograd);
    CHECK_THAT(e.what(), Catch::Contains("retain_graph"));
  }
}

TEST_CASE("backward on a non-scalar needs a seed of the same shape", "[core][autograd]") {
  auto x = Tensor<double>::from_vector({2, 2}, {1, 2, 3, 4}).requires_grad_();
  auto y = x * 2.0;
  try {
    y.backward();
    FAIL("expected an autograd error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::autograd);
    CHECK_THAT(e.what(), Catch::Contains("[2, 2]"));
  }
  CHECK_THROWS_AS(y.backward(Tensor<double>::ones({4})), Error);
  y.backward(Tensor<double>::from_vector({2, 2}, {1, 0, 0, 1}));
  CHECK(x.grad().to_vector() == std::vector<double>{2, 0, 0, 2});
}

TEST_CASE("only leaves can be marked as requiring grad, and detach leaves the graph", "[core][autograd]") {
  auto x = Tensor<float>::ones({2}).requires_grad_();
  auto y = x * 2.0f;
  CHECK_FALSE(y.is_leaf());
  CHECK(std::string(y.op()) == "mul_scalar");
  CHECK_THROWS_AS(y.requires_grad_(), Error);
  auto d = y.detach();
  CHECK(d.is_leaf());
  CHECK_FALSE(d.requires_grad());
  CHECK(d.data() == y.data());  // shares storage
}

TEST_CASE("a deep chain of ops backpropagates without recursion", "[core][autograd]") {
  auto x = Tensor<double>::from_vector({1}, {1.0}).requires_grad_();
  Tensor<double> y = x;
  for (int i = 0; i < 20000; ++i) y = y + 0.0;
  sum(y).backward();
  CHECK(x.grad()[0] == 1.0);
}

TEST_CASE("the gradient checker rejects a wrong backward rule", "[core][autograd][gradcheck]") {
  // x² with a backward that forgets the factor 2.
  auto wrong_square = [](const std::vector<Tensor<double>>& in) {
    const Tensor<double>& x = in[0];
    Tensor<double> y = Tensor<double>::empty(x.shape());
    for (Index i = 0; i < x.numel(); ++i) y[i] = x[i] * x[i];
    if (detail::needs_grad(x))
      detail::record(y, "wrong_square", {x}, [x](const double* dy) {
        double* g = detail::grad_ptr(x);
        for (Index i = 0; i < x.numel(); ++i) g[i] += dy[i] * x[i];
      });
    return y;
  };
  Rng rng(3);
  const auto report = everlora_test::gradcheck(wrong_square, {everlora_test::random_input({4}, rng)});
  CHECK_FALSE(report.passed());
  CHECK(report.relative_error > 0.1);
}
