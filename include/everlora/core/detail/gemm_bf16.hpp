// everlora — matrix products whose B operand is a tensor that may be held in bfloat16 (a frozen
// base weight, Tensor<float>::hold_in_bf16), in one of two ways (set_bf16_products):
//  - fast (the default): on the CPU's bf16 instructions through oneDNN (gemm_onednn_bf16.hpp), A
//    rounded to bf16 and the sums in float, as PyTorch's autocast does; where the CPU has no bf16
//    instructions (or without oneDNN), exact as below;
//  - exact: B decoded to float a panel at a time (at most kBf16PanelFloats values), each panel
//    through detail::gemm: the float product on the bf16 values, with no float copy of the weight.
#ifndef EVERLORA_CORE_DETAIL_GEMM_BF16_HPP
#define EVERLORA_CORE_DETAIL_GEMM_BF16_HPP

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <type_traits>

#include "everlora/core/detail/bf16.hpp"
#include "everlora/core/detail/buffer.hpp"
#include "everlora/core/detail/gemm.hpp"
#include "everlora/core/detail/gemm_onednn_bf16.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

/// How products with a weight held in bf16 run (see the top of this file).
enum class Bf16Products { fast, exact };

namespace detail {
inline std::atomic<Bf16Products>& bf16_products_setting() {
  static std::atomic<Bf16Products> setting{Bf16Products::fast};
  return setting;
}
}  // namespace detail

/// Chooses how every later product with a bf16 weight runs, process-wide.
inline void set_bf16_products(Bf16Products how) { detail::bf16_products_setting() = how; }
inline Bf16Products bf16_products() { return detail::bf16_products_setting(); }

/// Runs the products with bf16 weights one way for a scope's length, then as before.
class Bf16ProductsScope {
 public:
  explicit Bf16ProductsScope(Bf16Products how) : before_(bf16_products()) { set_bf16_products(how); }
  Bf16ProductsScope(const Bf16ProductsScope&) = delete;
  Bf16ProductsScope& operator=(const Bf16ProductsScope&) = delete;
  ~Bf16ProductsScope() { set_bf16_products(before_); }

 private:
  Bf16Products before_;
};

/// What products with a bf16 weight run on now, for reports: "onednn avx512_core_amx",
/// "onednn avx512_core_bf16", or "f32" (the weight decoded to float).
inline std::string bf16_products_backend() {
#ifdef EVERLORA_USE_ONEDNN
  if (bf16_products() == Bf16Products::fast)
    if (const char* isa = detail::onednn_bf16_isa()) return std::string("onednn ") + isa;
#endif
  return "f32";
}

}  // namespace everlora

namespace everlora::detail {

/// Floats decoded per panel: 4 MB, small next to a weight, large enough that the GEMM of one panel
/// dwarfs its decoding.
constexpr Index kBf16PanelFloats = Index(1) << 20;

/// C = alpha·op(A)·op(B) + beta·C as detail::gemm, with B's values in bfloat16, decoded at most
/// `panel_floats` values at a time.
inline void gemm_bf16_b(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha, const float* a, Index lda,
                        const std::uint16_t* b, Index ldb, float beta, float* c, Index ldc,
                        Index panel_floats = kBf16PanelFloats) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    gemm(trans_a, trans_b, m, n, k, alpha, a, lda, static_cast<const float*>(nullptr), ldb, beta, c, ldc);
    return;
  }
  // B's stored rows: n of k values when trans_b (a panel covers columns of C), else k of n
  // values (a panel covers a slice of the inner dimension, accumulated into C).
  const Index stored_rows = trans_b ? n : k, row_length = trans_b ? k : n;
  const Index panel_rows = std::max<Index>(1, panel_floats / row_length);
  Buffer<float> panel(std::min(panel_rows, stored_rows) * row_length);
  for (Index first = 0; first < stored_rows; first += panel_rows) {
    const Index rows = std::min(panel_rows, stored_rows - first);
    parallel_for(rows, std::max<Index>(1, (1 << 15) / row_length), [&](Index r0, Index r1) {
      for (Index r = r0; r < r1; ++r)
        for (Index j = 0; j < row_length; ++j)
          panel.data()[r * row_length + j] = float_from_bits(std::uint32_t(b[(first + r) * ldb + j]) << 16);
    });
    if (trans_b) {
      gemm(trans_a, true, m, rows, k, alpha, a, lda, panel.data(), k, beta, c + first, ldc);
    } else {
      const float* a_slice = trans_a ? a + first * lda : a + first;  // op(A)'s columns first..first+rows
      gemm(trans_a, false, m, n, rows, alpha, a_slice, lda, panel.data(), n, first == 0 ? beta : 1.0f, c, ldc);
    }
  }
}

#ifdef EVERLORA_USE_ONEDNN
/// The fast form of gemm_bf16_b for the products a model makes (A not transposed, alpha 1, beta 0
/// or 1): A rounded to bf16, then oneDNN's bf16 matmul. False when the product is not of that form.
inline bool gemm_bf16_b_on_bf16_units(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha, const float* a,
                                      Index lda, const std::uint16_t* b, Index ldb, float beta, float* c, Index ldc) {
  if (trans_a || alpha != 1.0f || (beta != 0.0f && beta != 1.0f) || m == 0 || n == 0 || k == 0) return false;
  Bf16Buffer a_bf16(m * k);
  parallel_for(m, std::max<Index>(1, (1 << 15) / k), [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r)
      for (Index j = 0; j < k; ++j) a_bf16.data()[r * k + j] = float_to_bfloat16(a[r * lda + j]);
  });
  OnednnBf16Matmuls::instance().run(m, n, k, a_bf16.data(), trans_b, b, ldb, beta == 1.0f, c, ldc);
  return true;
}
#endif

/// detail::gemm with B given as a tensor (its values from element `b_offset` on), which may be held
/// in bf16 (then as bf16_products() says).
template <class T>
void gemm_tensor_b(bool trans_a, bool trans_b, Index m, Index n, Index k, T alpha, const T* a, Index lda,
                   const Tensor<T>& b, Index b_offset, Index ldb, T beta, T* c, Index ldc) {
  if constexpr (std::is_same_v<T, float>) {
    if (b.held_in_bf16()) {
      const std::uint16_t* b_bf16 = b.bf16_data() + b_offset;
#ifdef EVERLORA_USE_ONEDNN
      static const bool bf16_units = onednn_bf16_isa() != nullptr;
      if (bf16_units && bf16_products() == Bf16Products::fast &&
          gemm_bf16_b_on_bf16_units(trans_a, trans_b, m, n, k, alpha, a, lda, b_bf16, ldb, beta, c, ldc))
        return;
#endif
      gemm_bf16_b(trans_a, trans_b, m, n, k, alpha, a, lda, b_bf16, ldb, beta, c, ldc);
      return;
    }
  }
  gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b.data() + b_offset, ldb, beta, c, ldc);
}

}  // namespace everlora::detail

#endif  // EVERLORA_CORE_DETAIL_GEMM_BF16_HPP
