// Tensors held in bfloat16 (a frozen float base): rounding, storage, clear errors, and products
// that equal float products on the rounded values, in every transpose and across decode panels.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "everlora/core.hpp"
#include "everlora/core/detail/gemm_bf16.hpp"

using namespace everlora;

namespace {

/// A float tensor's values rounded to bf16 and back (what holding it in bf16 keeps).
Tensor<float> rounded_copy(const Tensor<float>& t) { return t.clone().hold_in_bf16().hold_in_f32(); }

bool throws_naming(const std::function<void()>& f, const std::string& words) {
  try {
    f();
  } catch (const Error& e) {
    return std::string(e.what()).find(words) != std::string::npos;
  }
  return false;
}

}  // namespace

TEST_CASE("bf16: rounding is to nearest-even and decoding is exact", "[core][bf16]") {
  using detail::bfloat16_to_float;
  using detail::float_to_bfloat16;
  CHECK(bfloat16_to_float(float_to_bfloat16(1.0f)) == 1.0f);
  CHECK(bfloat16_to_float(float_to_bfloat16(-2.5f)) == -2.5f);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
  CHECK(bfloat16_to_float(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8))) == 1.0f);
  CHECK(bfloat16_to_float(float_to_bfloat16(1.0f + 3 * std::ldexp(1.0f, -8))) == 1.0f + std::ldexp(1.0f, -6));
  CHECK(std::isinf(bfloat16_to_float(float_to_bfloat16(std::numeric_limits<float>::max()))));
  CHECK(std::isnan(bfloat16_to_float(float_to_bfloat16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST_CASE("bf16: a frozen tensor held in bf16 keeps the rounded values, in place for every handle", "[core][bf16]") {
  Rng rng(3);
  Tensor<float> w = Tensor<float>::normal({5, 7}, rng, 0, 1);
  const Tensor<float> expected = rounded_copy(w);
  Tensor<float> handle = w;  // shares the implementation
  w.hold_in_bf16();
  CHECK(handle.held_in_bf16());
  const Tensor<float> view = reshape(w, {7, 5});
  CHECK(view.held_in_bf16());
  const Tensor<float> copy = w.clone();
  CHECK(copy.held_in_bf16());
  const Tensor<float> decoded = w.as_f32();
  CHECK_FALSE(decoded.held_in_bf16());
  for (Index i = 0; i < w.numel(); ++i) {
    CHECK(decoded[i] == expected[i]);
    CHECK(std::abs(expected[i] - handle.as_f32()[i]) == 0);
  }
  w.hold_in_f32();
  CHECK_FALSE(handle.held_in_bf16());
  for (Index i = 0; i < w.numel(); ++i) CHECK(handle[i] == expected[i]);
  const Tensor<float> zeros = Tensor<float>::zeros_bf16({3, 2});
  CHECK(zeros.held_in_bf16());
  CHECK(zeros.as_f32().vec().isZero());
}

TEST_CASE("bf16: reading float values of a bf16 tensor, training it, or holding double in bf16 are errors", "[core][bf16][errors]") {
  Tensor<float> w = Tensor<float>::ones({2, 3});
  w.hold_in_bf16();
  CHECK(throws_naming([&] { (void)w.data(); }, "[2, 3] is held in bf16"));
  CHECK(throws_naming([&] { (void)w.vec(); }, "as_f32()"));
  CHECK(throws_naming([&] { w.requires_grad_(); }, "frozen weights"));
  Tensor<float> trained = Tensor<float>::ones({2, 3}).requires_grad_();
  CHECK(throws_naming([&] { trained.hold_in_bf16(); }, "frozen leaf"));
  Tensor<double> d = Tensor<double>::ones({2});
  CHECK(throws_naming([&] { d.hold_in_bf16(); }, "not double"));
  CHECK(throws_naming([&] { (void)Tensor<float>::ones({2}).bf16_data(); }, "held in f32"));
}

TEST_CASE("bf16: products with a bf16 B equal float products on its rounded values, in every layout and panel split", "[core][bf16]") {
  Rng rng(5);
  const Index m = 9, n = 13, k = 11;
  for (bool trans_a : {false, true})
    for (bool trans_b : {false, true})
      for (Index panel : {Index(1), Index(40), detail::kBf16PanelFloats}) {
        INFO("trans_a " << trans_a << ", trans_b " << trans_b << ", panel " << panel);
        const Tensor<float> a = Tensor<float>::normal(trans_a ? Shape{k, m} : Shape{m, k}, rng, 0, 1);
        Tensor<float> b = Tensor<float>::normal(trans_b ? Shape{n, k} : Shape{k, n}, rng, 0, 1);
        const Tensor<float> b_rounded = rounded_copy(b);
        const Tensor<float> c0 = Tensor<float>::normal({m, n}, rng, 0, 1);
        Tensor<float> want = c0.clone(), got = c0.clone();
        const Index lda = trans_a ? m : k, ldb = trans_b ? k : n;
        detail::gemm(trans_a, trans_b, m, n, k, 0.5f, a.data(), lda, b_rounded.data(), ldb, 2.0f, want.data(), n);
        b.hold_in_bf16();
        detail::gemm_bf16_b(trans_a, trans_b, m, n, k, 0.5f, a.data(), lda, b.bf16_data(), ldb, 2.0f, got.data(), n, panel);
        for (Index i = 0; i < want.numel(); ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-5).margin(1e-5));
      }
}

TEST_CASE("bf16: matmul_nt and embedding read a bf16 weight, and the input's gradient matches the float one", "[core][bf16]") {
  const Bf16ProductsScope exact(Bf16Products::exact);
  Rng rng(9);
  Tensor<float> w = Tensor<float>::normal({6, 4}, rng, 0, 1);
  const Tensor<float> w_rounded = rounded_copy(w);
  w.hold_in_bf16();
  const Tensor<float> x0 = Tensor<float>::normal({3, 4}, rng, 0, 1);
  Tensor<float> x = x0.clone().requires_grad_(), x_ref = x0.clone().requires_grad_();
  Tensor<float> y = matmul_nt(x, w), y_ref = matmul_nt(x_ref, w_rounded);
  sum(y * y).backward();
  sum(y_ref * y_ref).backward();
  for (Index i = 0; i < y.numel(); ++i) CHECK(y[i] == Approx(y_ref[i]).epsilon(1e-6));
  for (Index i = 0; i < x.numel(); ++i) CHECK(x.grad()[i] == Approx(x_ref.grad()[i]).epsilon(1e-6));
  const Tensor<float> rows = embedding(w, {5, 0, 5}, Shape{3});
  for (Index d = 0; d < 4; ++d) {
    CHECK(rows[d] == w_rounded[5 * 4 + d]);
    CHECK(rows[4 + d] == w_rounded[d]);
  }
}

TEST_CASE("bf16: fast products round the input to bf16 and sum in float, forward and backward", "[core][bf16]") {
  // On a CPU with bf16 instructions (and oneDNN) the fast products are the float products of the
  // inputs rounded to bf16; elsewhere they are the exact ones. Either way this reference holds to
  // the float sums' rounding, in both layouts a linear layer uses (x·Wᵀ forward, dy·W backward)
  // and when the backward accumulates into a gradient (x feeds two products).
  const Bf16ProductsScope fast(Bf16Products::fast);
  const bool on_bf16_units = bf16_products_backend() != "f32";
  Rng rng(11);
  const Index rows = 37, in = 64, out = 48;
  Tensor<float> w = Tensor<float>::normal({out, in}, rng, 0, 1);
  const Tensor<float> w_rounded = rounded_copy(w);
  w.hold_in_bf16();
  const Tensor<float> x0 = Tensor<float>::normal({rows, in}, rng, 0, 1);
  const Tensor<float> dy0 = Tensor<float>::normal({rows, out}, rng, 0, 1);
  Tensor<float> x = x0.clone().requires_grad_();
  const Tensor<float> y = matmul_nt(x, w);
  sum((y + matmul_nt(x, w)) * dy0).backward();  // dx = 2·dy·W, accumulated in two products
  const Tensor<float> x_in = on_bf16_units ? rounded_copy(x0) : x0;
  const Tensor<float> dy_in = on_bf16_units ? rounded_copy(dy0) : dy0;
  const Tensor<float> y_ref = matmul_nt(x_in, w_rounded), dx_ref = matmul(dy_in, w_rounded) * 2.0f;
  for (Index i = 0; i < y.numel(); ++i) CHECK(y[i] == Approx(y_ref[i]).epsilon(1e-5).margin(1e-4));
  for (Index i = 0; i < x.numel(); ++i) CHECK(x.grad()[i] == Approx(dx_ref[i]).epsilon(1e-5).margin(1e-4));
}
