// everlora — matrix products whose B operand is a tensor that may be held in bfloat16 (a frozen
// base weight, Tensor<float>::hold_in_bf16). Such a B is decoded to float a panel at a time (at
// most kBf16PanelFloats values), and each panel goes through detail::gemm: the product runs at the
// float GEMM's rate on the bf16 values, exactly, with no float copy of the whole weight.
#ifndef EVERLORA_CORE_DETAIL_GEMM_BF16_HPP
#define EVERLORA_CORE_DETAIL_GEMM_BF16_HPP

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "everlora/core/detail/bf16.hpp"
#include "everlora/core/detail/buffer.hpp"
#include "everlora/core/detail/gemm.hpp"
#include "everlora/core/tensor.hpp"

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

/// detail::gemm with B given as a tensor (its values from element `b_offset` on), which may be held
/// in bf16.
template <class T>
void gemm_tensor_b(bool trans_a, bool trans_b, Index m, Index n, Index k, T alpha, const T* a, Index lda,
                   const Tensor<T>& b, Index b_offset, Index ldb, T beta, T* c, Index ldc) {
  if constexpr (std::is_same_v<T, float>) {
    if (b.held_in_bf16()) {
      gemm_bf16_b(trans_a, trans_b, m, n, k, alpha, a, lda, b.bf16_data() + b_offset, ldb, beta, c, ldc);
      return;
    }
  }
  gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b.data() + b_offset, ldb, beta, c, ldc);
}

}  // namespace everlora::detail

#endif  // EVERLORA_CORE_DETAIL_GEMM_BF16_HPP
