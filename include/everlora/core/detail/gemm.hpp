// everlora — the one entry point for matrix products.
// Every matrix product in the library goes through detail::gemm. Two back ends:
//  - Eigen (default): at most four GEMM kernels per scalar (NN, NT, TN, TT) per translation unit,
//    OpenMP-parallel on its own; inside a parallel region it runs on one thread.
//  - CBLAS (define EVERLORA_USE_CBLAS and link a CBLAS, e.g. OpenBLAS's OpenMP build; the CMake
//    option EVERLORA_USE_BLAS does both): float and double products go to cblas_?gemm, which
//    shares OpenMP's thread pool and also runs on one thread inside a parallel region. Both split
//    the work over rows and columns of C, never over k, so every entry of C is summed in the same
//    order whatever the thread count.
#ifndef EVERLORA_CORE_DETAIL_GEMM_HPP
#define EVERLORA_CORE_DETAIL_GEMM_HPP

#include <limits>
#include <type_traits>

#include "everlora/core/detail/eigen.hpp"

#include "everlora/config.hpp"

#ifdef EVERLORA_USE_CBLAS
#include <cblas.h>
#endif

namespace everlora::detail {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using StridedMap = Eigen::Map<RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using ConstStridedMap = Eigen::Map<const RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

/// The name of the back end detail::gemm was compiled with ("cblas" or "eigen"), for reports.
inline const char* gemm_backend() {
#ifdef EVERLORA_USE_CBLAS
  return "cblas";
#else
  return "eigen";
#endif
}

/// C = alpha · op(A) · op(B) + beta · C, all row-major, BLAS-style.
/// op(A) is [m, k]: A is stored [m, k] with row stride lda, or [k, m] when trans_a.
/// op(B) is [k, n]: B is stored [k, n] with row stride ldb, or [n, k] when trans_b.
/// C is [m, n] with row stride ldc. beta = 0 overwrites C (its old content may be garbage).
template <class T>
void gemm(bool trans_a, bool trans_b, Index m, Index n, Index k, T alpha, const T* a, Index lda,
          const T* b, Index ldb, T beta, T* c, Index ldc) {
  if (m == 0 || n == 0) return;
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
