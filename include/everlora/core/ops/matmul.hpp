// everlora — matrix products with autograd: matmul (A·B), matmul_nt (A·Bᵀ), matmul_tn (Aᵀ·B).
//
// Shapes: a [..., M, K] · b [K, N] → [..., M, N] (a's leading dims are flattened into rows), or
// batched: a [B.., M, K] · b [B.., K, N] → [B.., M, N] with identical leading dims (attention).
// Backward: dA = dC·op(B)ᵀ, dB = op(A)ᵀ·dC, each one GEMM straight into the gradient buffer.
// b may be a frozen weight held in bf16 (a tied LM head): its products decode it by panels.
#ifndef EVERLORA_CORE_OPS_MATMUL_HPP
#define EVERLORA_CORE_OPS_MATMUL_HPP

#include <string>

#include "everlora/core/detail/gemm.hpp"
#include "everlora/core/detail/gemm_bf16.hpp"
#include "everlora/core/parallel.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

namespace detail {

/// Sizes of one matmul call: `batch` independent products op(A)[m,k] · op(B)[k,n].
struct MatmulDims {
  Index batch = 1, m = 0, n = 0, k = 0;
  Index a_stride = 0, b_stride = 0;  // elements between consecutive batch matrices (0: shared)
  Shape out;
};

template <class T>
MatmulDims matmul_dims(const Tensor<T>& a, const Tensor<T>& b, bool ta, bool tb, const char* op) {
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  auto fail = [&](const std::string& why) -> MatmulDims {
    throw Error(ErrorKind::shape, std::string(op) + ": a " + sa.str() + " and b " + sb.str() +
                                      ": " + why);
  };
  if (sa.rank() < 2 || sb.rank() < 2) return fail("both operands need rank >= 2");
  MatmulDims d;
  const Index a_rows = sa[-2], a_cols = sa[-1];
  const Index b_rows = sb[-2], b_cols = sb[-1];
  d.k = tb ? b_cols : b_rows;
  d.n = tb ? b_rows : b_cols;
  if (sb.rank() == 2) {
    if (ta && sa.rank() != 2) return fail("a transposed a needs rank 2");
    d.m = ta ? a_cols : sa.numel() / a_cols;  // leading dims of a flatten into rows
    const Index a_k = ta ? a_rows : a_cols;
    if (a_k != d.k) return fail("inner dimensions " + std::to_string(a_k) + " and " +
                                std::to_string(d.k) + " differ");
    d.out = sa;
    if (ta) d.out[0] = a_cols;
    d.out[-1] = d.n;
    return d;
  }
  if (sa.rank() != sb.rank()) return fail("batched operands need the same rank");
  for (int i = 0; i < sa.rank() - 2; ++i)
    if (sa[i] != sb[i]) return fail("batch dimension " + std::to_string(i) + " differs");
  d.m = ta ? a_cols : a_rows;
  const Index a_k = ta ? a_rows : a_cols;
  if (a_k != d.k)
    return fail("inner dimensions " + std::to_string(a_k) + " and " + std::to_string(d.k) +
                " differ");
  d.batch = sa.numel() / (a_rows * a_cols == 0 ? 1 : a_rows * a_cols);
  d.a_stride = a_rows * a_cols;
  d.b_stride = b_rows * b_cols;
  d.out = sa;
  d.out[-2] = d.m;
  d.out[-1] = d.n;
  return d;
}

/// Runs body(i) for each batch index: batches in parallel when there are enough of them to
/// occupy every thread, otherwise one after another with each GEMM parallel inside.
template <class Body>
void for_each_batch(Index batch, Body&& body) {
  if (batch >= num_threads() && batch > 1)
    parallel_for(batch, 1, [&](Index begin, Index end) {
      for (Index i = begin; i < end; ++i) body(i);
    });
  else
    for (Index i = 0; i < batch; ++i) body(i);
}

template <class T>
Tensor<T> matmul_impl(const Tensor<T>& a, const Tensor<T>& b, bool ta, bool tb, const char* op) {
  const MatmulDims d = matmul_dims(a, b, ta, tb, op);
  const Index lda = ta ? d.m : d.k, ldb = tb ? d.k : d.n;
  Tensor<T> c = Tensor<T>::empty(d.out);
  for_each_batch(d.batch, [&](Index i) {
    gemm_tensor_b(ta, tb, d.m, d.n, d.k, T(1), a.data() + i * d.a_stride, lda, b, i * d.b_stride, ldb, T(0),
                  c.data() + i * d.m * d.n, d.n);
  });
  if (needs_grad(a, b)) {
    record(c, op, {a, b}, [a, b, d, ta, tb, lda, ldb](const T* dc) {
      const Index m = d.m, n = d.n, k = d.k;
      if (T* da = grad_ptr(a)) {
        for_each_batch(d.batch, [&](Index i) {
          const T* dci = dc + i * m * n;
          T* dai = da + i * d.a_stride;
          if (!ta)  // dA[m,k] += dC · op(B)ᵀ
            gemm_tensor_b(false, !tb, m, k, n, T(1), dci, n, b, i * d.b_stride, ldb, T(1), dai, lda);
          else  // dA is stored [k,m]: += op(B) · dCᵀ
            gemm(tb, true, k, m, n, T(1), b.data() + i * d.b_stride, ldb, dci, n, T(1), dai, lda);
        });
      }
      if (T* db = grad_ptr(b)) {
        // With a shared 2-D b, every row of a contributes to the one dB (d.batch is then 1).
        for_each_batch(d.batch, [&](Index i) {
          const T* dci = dc + i * m * n;
          const T* ai = a.data() + i * d.a_stride;
          T* dbi = db + i * d.b_stride;
          if (!tb)  // dB[k,n] += op(A)ᵀ · dC
            gemm(!ta, false, k, n, m, T(1), ai, lda, dci, n, T(1), dbi, ldb);
          else  // dB is stored [n,k]: += dCᵀ · op(A)
            gemm(true, ta, n, k, m, T(1), dci, n, ai, lda, T(1), dbi, ldb);
        });
      }
    });
  }
  return c;
}

}  // namespace detail

/// a · b. a [..., M, K], b [K, N] → [..., M, N]; or batched with equal leading dims.
template <class T>
Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::matmul_impl(a, b, false, false, "matmul");
}
/// a · bᵀ. a [..., M, K], b [N, K] → [..., M, N] (a linear layer: x · Wᵀ); or batched.
template <class T>
Tensor<T> matmul_nt(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::matmul_impl(a, b, false, true, "matmul_nt");
}
/// aᵀ · b. a [K, M], b [K, N] → [M, N]; or batched a [B.., K, M], b [B.., K, N].
template <class T>
Tensor<T> matmul_tn(const Tensor<T>& a, const Tensor<T>& b) {
  return detail::matmul_impl(a, b, true, false, "matmul_tn");
}

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_MATMUL_HPP
