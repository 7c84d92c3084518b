// everlora — the one entry point for matrix products.
// Every matrix product in the library goes through detail::gemm. Three back ends, each chosen at
// compile time; all share OpenMP's thread pool and run on one thread inside a parallel region:
//  - Eigen (the fallback): at most four GEMM kernels per scalar (NN, NT, TN, TT) per translation
//    unit.
//  - CBLAS (define EVERLORA_USE_CBLAS and link a CBLAS, e.g. OpenBLAS's OpenMP build; the CMake
//    option EVERLORA_USE_BLAS does both): float and double products go to cblas_?gemm.
//  - oneDNN (define EVERLORA_USE_ONEDNN and link libdnnl, its OpenMP build; the CMake option
//    EVERLORA_USE_ONEDNN does both): float products go to dnnl_sgemm, which picks its AVX-512
//    kernels from the CPU's features: 1.6-2x OpenBLAS 0.3.21's AVX2 kernels (which
//    OPENBLAS_CORETYPE=Haswell forces) on the reference workload's products, and 2-4x any other
//    back end on the rank-8 ones (docs/performance.md). Double products keep CBLAS or
//    Eigen. oneDNN may split a skinny product over k, and large products are split into row
//    panels, so a float product can round differently on another thread count; a fixed thread
//    count gives the same bits on every run.
#ifndef EVERLORA_CORE_DETAIL_GEMM_HPP
#define EVERLORA_CORE_DETAIL_GEMM_HPP

#include <limits>
#include <string>
#include <type_traits>

#include "everlora/core/detail/eigen.hpp"

#include "everlora/config.hpp"
#include "everlora/core/parallel.hpp"

#ifdef EVERLORA_USE_CBLAS
#include <cblas.h>
#endif
#ifdef EVERLORA_USE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#if DNNL_CPU_RUNTIME != DNNL_RUNTIME_OMP
#error "everlora: EVERLORA_USE_ONEDNN needs oneDNN's OpenMP build (it shares OpenMP's thread pool)"
#endif

#include "everlora/core/error.hpp"
#endif

namespace everlora::detail {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using StridedMap = Eigen::Map<RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using ConstStridedMap = Eigen::Map<const RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

/// The name of the back end that detail::gemm uses for float products ("onednn", "cblas" or
/// "eigen"), for reports.
inline const char* gemm_backend() {
#if defined(EVERLORA_USE_ONEDNN)
  return "onednn";
#elif defined(EVERLORA_USE_CBLAS)
  return "cblas";
#else
  return "eigen";
#endif
}

#ifdef EVERLORA_USE_ONEDNN
/// dnnl_sgemm (row-major, BLAS arguments); Error(shape) naming the product if oneDNN refuses it.
inline void dnnl_sgemm_checked(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha,
                               const float* a, Index lda, const float* b, Index ldb, float beta,
                               float* c, Index ldc) {
  const dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha,
                                          a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success)
    throw Error(ErrorKind::shape, "gemm: dnnl_sgemm refused the product [" + std::to_string(m) +
                                      ", " + std::to_string(k) + "] x [" + std::to_string(k) +
                                      ", " + std::to_string(n) + "] (status " +
                                      std::to_string(int(status)) + ")");
}

/// dnnl_sgemm, with the rows of C split into one panel per thread when C is large. oneDNN's own
/// split of a [1024, 512 or 2048] product over two threads reaches only 1.2-1.8x its one-thread
/// rate; a panel per thread, each a one-thread dnnl_sgemm (oneDNN runs on one thread inside a
/// parallel region), reaches 1.75-1.9x. Skinny products (the rank-8 ones) stay with oneDNN's split.
inline void onednn_sgemm(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha,
                         const float* a, Index lda, const float* b, Index ldb, float beta, float* c,
                         Index ldc) {
  constexpr Index panel_rows = 16, min_rows_per_thread = 128, min_columns = 64;
  if (n < min_columns || m < 2 * min_rows_per_thread) {
    dnnl_sgemm_checked(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // On one thread, or inside a parallel region, parallel_for makes one call over all the rows.
  const Index panels = (m + panel_rows - 1) / panel_rows;
  parallel_for(panels, min_rows_per_thread / panel_rows, [&](Index first, Index last) {
    const Index row = first * panel_rows, rows = std::min(m, last * panel_rows) - row;
    const float* a_rows = trans_a ? a + row : a + row * lda;  // op(A)'s rows are A's columns
    dnnl_sgemm_checked(trans_a, trans_b, rows, n, k, alpha, a_rows, lda, b, ldb, beta,
                       c + row * ldc, ldc);
  });
}
#endif

/// C = alpha · op(A) · op(B) + beta · C, all row-major, BLAS-style.
/// op(A) is [m, k]: A is stored [m, k] with row stride lda, or [k, m] when trans_a.
/// op(B) is [k, n]: B is stored [k, n] with row stride ldb, or [n, k] when trans_b.
/// C is [m, n] with row stride ldc. beta = 0 overwrites C (its old content may be garbage).
template <class T>
void gemm(bool trans_a, bool trans_b, Index m, Index n, Index k, T alpha, const T* a, Index lda,
          const T* b, Index ldb, T beta, T* c, Index ldc) {
  if (m == 0 || n == 0) return;
#ifdef EVERLORA_USE_ONEDNN
  if constexpr (std::is_same_v<T, float>) {
    if (k > 0) {
      onednn_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
  }
#endif
#ifdef EVERLORA_USE_CBLAS
  // BLAS takes int sizes; k = 0 and sizes beyond int fall through to Eigen.
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    constexpr Index int_max = std::numeric_limits<int>::max();
    if (k > 0 && m <= int_max && n <= int_max && k <= int_max && lda <= int_max &&
        ldb <= int_max && ldc <= int_max) {
      const auto ta = trans_a ? CblasTrans : CblasNoTrans;
      const auto tb = trans_b ? CblasTrans : CblasNoTrans;
      const auto args = [](Index v) { return static_cast<int>(v); };
      if constexpr (std::is_same_v<T, float>)
        cblas_sgemm(CblasRowMajor, ta, tb, args(m), args(n), args(k), alpha, a, args(lda), b,
                    args(ldb), beta, c, args(ldc));
      else
        cblas_dgemm(CblasRowMajor, ta, tb, args(m), args(n), args(k), alpha, a, args(lda), b,
                    args(ldb), beta, c, args(ldc));
      return;
    }
  }
#endif
  StridedMap<T> C(c, m, n, Eigen::OuterStride<>(ldc));
  if (beta == T(0)) C.setZero();
  else if (beta != T(1)) C *= beta;
  if (k == 0 || alpha == T(0)) return;
  ConstStridedMap<T> A(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
  ConstStridedMap<T> B(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
  if (!trans_a && !trans_b) C.noalias() += alpha * A * B;
  else if (!trans_a) C.noalias() += alpha * A * B.transpose();
  else if (!trans_b) C.noalias() += alpha * A.transpose() * B;
  else C.noalias() += alpha * A.transpose() * B.transpose();
}

}  // namespace everlora::detail

#endif  // EVERLORA_CORE_DETAIL_GEMM_HPP
