// everlora — the one entry point for matrix products.
// Every matrix product in the library goes through detail::gemm, so a translation unit instantiates
// at most four Eigen GEMM kernels per scalar (NN, NT, TN, TT) however many call sites it has.
// Eigen's GEMM is OpenMP-parallel on its own; inside a parallel region it runs on one thread.
#ifndef EVERLORA_CORE_DETAIL_GEMM_HPP
#define EVERLORA_CORE_DETAIL_GEMM_HPP

#include "everlora/core/detail/eigen.hpp"

#include "everlora/config.hpp"

namespace everlora::detail {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using StridedMap = Eigen::Map<RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using ConstStridedMap = Eigen::Map<const RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

/// C = alpha · op(A) · op(B) + beta · C, all row-major, BLAS-style.
/// op(A) is [m, k]: A is stored [m, k] with row stride lda, or [k, m] when trans_a.
/// op(B) is [k, n]: B is stored [k, n] with row stride ldb, or [n, k] when trans_b.
/// C is [m, n] with row stride ldc. beta = 0 overwrites C (its old content may be garbage).
template <class T>
void gemm(bool trans_a, bool trans_b, Index m, Index n, Index k, T alpha, const T* a, Index lda,
          const T* b, Index ldb, T beta, T* c, Index ldc) {
  if (m == 0 || n == 0) return;
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
