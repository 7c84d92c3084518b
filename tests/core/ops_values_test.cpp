// Values of ops on cases worked out by hand, and properties the golden files do not cover:
// numerical stability, the ignore index, dropout's statistics and the KV-cache decode path.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "everlora/core.hpp"

using namespace everlora;

TEMPLATE_TEST_CASE("matmul variants agree with a hand-computed product", "[core][ops]", float, double) {
  using T = TestType;
  auto a = Tensor<T>::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  auto b = Tensor<T>::from_vector({3, 2}, {7, 8, 9, 10, 11, 12});
  CHECK(matmul(a, b).to_vector() == std::vector<T>{58, 64, 139, 154});
  auto bt = transpose(b, 0, 1);
  CHECK(matmul_nt(a, bt).to_vector() == std::vector<T>{58, 64, 139, 154});
  auto at = transpose(a, 0, 1);
  CHECK(matmul_tn(at, b).to_vector() == std::vector<T>{58, 64, 139, 154});
}

TEST_CASE("float gemm equals a double product on every layout and on row panels", "[core][ops][gemm]") {
  // Sizes large enough that the float back end splits C into row panels (m = 533 is no multiple
  // of the 16-row panel), plus skinny rank-8 products; strided operands and beta = 0.5 and 0.
  Rng rng(5);
  struct Case { Index m, n, k; };
  for (const Case c : {Case{533, 96, 70}, Case{300, 8, 64}, Case{8, 200, 300}}) {
    for (int layout = 0; layout < 4; ++layout) {
      const bool ta = layout & 1, tb = layout & 2;
      const Index lda = (ta ? c.m : c.k) + 3, ldb = (tb ? c.k : c.n) + 5, ldc = c.n + 2;
      const Index a_rows = ta ? c.k : c.m, b_rows = tb ? c.n : c.k;
      const auto a = Tensor<float>::normal({a_rows, lda}, rng, 0, 1).to_vector();
      const auto b = Tensor<float>::normal({b_rows, ldb}, rng, 0, 1).to_vector();
      for (const float beta : {0.0f, 0.5f}) {
        std::vector<float> out = Tensor<float>::normal({c.m, ldc}, rng, 0, 1).to_vector();
        const std::vector<float> before = out;
        detail::gemm(ta, tb, c.m, c.n, c.k, 1.5f, a.data(), lda, b.data(), ldb, beta, out.data(), ldc);
        std::vector<float> again = before;  // the same thread count gives the same bits
        detail::gemm(ta, tb, c.m, c.n, c.k, 1.5f, a.data(), lda, b.data(), ldb, beta, again.data(), ldc);
        CHECK(again == out);
        double worst = 0;
        for (Index i = 0; i < c.m; ++i) {
          for (Index j = 0; j < c.n; ++j) {
            double sum = 0;
            for (Index p = 0; p < c.k; ++p)
              sum += double(ta ? a[p * lda + i] : a[i * lda + p]) * double(tb ? b[j * ldb + p] : b[p * ldb + j]);
            const double expected = 1.5 * sum + double(beta) * before[i * ldc + j];
            worst = std::max(worst, std::abs(expected - out[i * ldc + j]));
          }
          for (Index j = c.n; j < ldc; ++j) CHECK(out[i * ldc + j] == before[i * ldc + j]);  // padding untouched
        }
        INFO("m " << c.m << " n " << c.n << " k " << c.k << " layout " << layout << " beta " << beta);
        CHECK(worst < 1e-3);
      }
    }
  }
}

TEMPLATE_TEST_CASE("softmax and cross-entropy stay finite for huge logits", "[core][ops]", float, double) {
  using T = TestType;
  auto z = Tensor<T>::from_vector({1, 3}, {T(1000), T(0), T(-1000)});
  auto p = softmax(z);
  CHECK(p[0] == Approx(1.0));
  CHECK(std::isfinite(static_cast<double>(log_softmax(z)[2])));
  CHECK(cross_entropy(z, {0}).item() == Approx(0.0).margin(1e-6));
  CHECK(cross_entropy(z, {1}).item() == Approx(1000.0));
}

TEMPLATE_TEST_CASE("silu and the fused swiglu equal their formulas and stay finite far out", "[core][ops]", float, double) {
  using T = TestType;
  // Far out σ underflows or saturates: silu(−100) is −0 (not NaN), silu(100) is 100.
  auto gate = Tensor<T>::from_vector({2, 3}, {-100, -2, -0.5, 0, 1.5, 100}).requires_grad_();
  auto up = Tensor<T>::from_vector({2, 3}, {3, -1, 2, 5, 0.5, -2}).requires_grad_();
  const auto y = swiglu(gate, up).to_vector();
  const auto s = silu(gate).to_vector();
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double g = static_cast<double>(gate.to_vector()[i]);
    const double expected_silu = g / (1 + std::exp(-g));
    CHECK(static_cast<double>(s[i]) == Approx(expected_silu).margin(1e-6));
    CHECK(static_cast<double>(y[i]) == Approx(expected_silu * static_cast<double>(up.to_vector()[i])).margin(1e-5));
  }
  sum(swiglu(gate, up)).backward();
  for (const T v : gate.grad().to_vector()) CHECK(std::isfinite(static_cast<double>(v)));
  CHECK_THROWS_WITH(swiglu(gate, Tensor<T>::zeros({3, 2})), Catch::Contains("swiglu: gate [2, 3] and up [3, 2] differ"));
}

TEMPLATE_TEST_CASE("sparsemax projects rows onto the simplex with exact zeros", "[core][ops]", float, double) {
  using T = TestType;
  // {1, 0.5, -1}: τ = 0.25 → {0.75, 0.25, 0}; {3, 0, 0}: one-hot; equal scores: uniform.
  auto z = Tensor<T>::from_vector({3, 3}, {1, T(0.5), -1, 3, 0, 0, 2, 2, 2});
  const std::vector<T> p = sparsemax(z).to_vector();
  const std::vector<T> expected{T(0.75), T(0.25), 0, 1, 0, 0, T(1) / 3, T(1) / 3, T(1) / 3};
  for (std::size_t i = 0; i < p.size(); ++i) CHECK(p[i] == Approx(expected[i]));
  CHECK(p[2] == T(0));  // exactly zero, not small
}

TEST_CASE("cross-entropy averages only the rows that are not ignored", "[core][ops]") {
  auto z = Tensor<double>::from_vector({3, 2}, {0, 0, 5, -5, 0, 0}).requires_grad_();
  auto loss = cross_entropy(z, {0, kIgnoreIndex, 1});
  CHECK(loss.item() == Approx(std::log(2.0)));
  loss.backward();
  CHECK(z.grad()[2] == 0.0);  // the ignored row gets no gradient
  CHECK(z.grad()[3] == 0.0);
  CHECK(z.grad()[0] == Approx(-0.25));  // (0.5 − 1) / 2 rows
  auto all_ignored = cross_entropy(z, {kIgnoreIndex, kIgnoreIndex, kIgnoreIndex});
  CHECK(all_ignored.item() == 0.0);
}

TEST_CASE("layer norm output has zero mean and unit variance per row", "[core][ops]") {
  Rng rng(3);
  auto x = Tensor<double>::normal({4, 64}, rng, 3.0, 5.0);
  auto y = layer_norm(x, Tensor<double>::ones({64}), Tensor<double>::zeros({64}));
  for (Index r = 0; r < 4; ++r) {
    auto row = y.matrix().row(r).array();
    CHECK(row.mean() == Approx(0.0).margin(1e-12));
    CHECK((row.square().mean()) == Approx(1.0).epsilon(1e-4));
  }
}

TEST_CASE("dropout keeps 1-p of the elements, scaled, and is reproducible", "[core][ops]") {
  auto x = Tensor<float>::ones({100000});
  Rng rng_a(5), rng_b(5);
  auto a = dropout(x, 0.25, rng_a);
  auto b = dropout(x, 0.25, rng_b);
  CHECK(a.to_vector() == b.to_vector());
  Index kept = 0;
  for (Index i = 0; i < a.numel(); ++i) {
    REQUIRE((a[i] == 0.0f || a[i] == Approx(1.0f / 0.75f)));
    kept += a[i] != 0.0f;
  }
  CHECK(static_cast<double>(kept) / 100000.0 == Approx(0.75).margin(0.01));
  CHECK(a.vec().mean() == Approx(1.0).margin(0.02));
  CHECK(dropout(x, 0.0, rng_a).data() == x.data());  // p = 0 is the identity
}

TEST_CASE("pooling respects the mask", "[core][ops]") {
  auto x = Tensor<float>::from_vector({1, 3, 2}, {1, 10, 2, 20, 100, 300});
  auto mask = Tensor<float>::from_vector({1, 3}, {1, 1, 0});
  CHECK(mean_pool(x, mask).to_vector() == std::vector<float>{1.5f, 15.0f});
  CHECK(max_pool(x, mask).to_vector() == std::vector<float>{2.0f, 20.0f});
}

TEMPLATE_TEST_CASE("decoding one query over a KV cache equals the last row of full attention",
                   "[core][ops][attention]", float, double) {
  using T = TestType;
  Rng rng(9);
  auto q = Tensor<T>::normal({2, 6, 8}, rng, 0, 1);
  auto k = Tensor<T>::normal({2, 6, 8}, rng, 0, 1);
  auto v = Tensor<T>::normal({2, 6, 8}, rng, 0, 1);
  auto full = causal_attention(q, k, v, 2);
  auto step = causal_attention(slice(q, 1, 5, 6), k, v, 2);
  auto last = slice(full, 1, 5, 6);
  for (Index i = 0; i < step.numel(); ++i) CHECK(step[i] == Approx(last[i]).margin(1e-5));
  // The first query sees only the first key: its output is v's first row.
  for (Index c = 0; c < 8; ++c) CHECK(full[c] == Approx(v[c]).margin(1e-6));
}

TEST_CASE("the fused attention equals the composition of its primitive ops", "[core][ops][attention]") {
  Rng rng(10);
  const Index B = 2, L = 4, C = 6, H = 3, hd = 2;
  auto q = Tensor<double>::normal({B, L, C}, rng, 0, 1);
  auto k = Tensor<double>::normal({B, L, C}, rng, 0, 1);
  auto v = Tensor<double>::normal({B, L, C}, rng, 0, 1);
  auto heads = [&](const Tensor<double>& t) { return transpose(reshape(t, {B, L, H, hd}), 1, 2); };
  auto scores = matmul_nt(heads(q), heads(k)) * (1.0 / std::sqrt(double(hd)));
  for (Index i = 0; i < scores.numel(); ++i) {  // causal mask: key j > query i
    const Index row = (i / L) % L, col = i % L;
    if (col > row) scores[i] = -std::numeric_limits<double>::infinity();
  }
  auto reference = reshape(transpose(matmul(softmax(scores), heads(v)), 1, 2), {B, L, C});
  auto fused = causal_attention(q, k, v, int(H));
  for (Index i = 0; i < fused.numel(); ++i) CHECK(fused[i] == Approx(reference[i]).margin(1e-12));
}
