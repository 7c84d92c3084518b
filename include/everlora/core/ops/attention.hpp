// everlora — causal multi-head self-attention as one fused op with its own backward.
//   q [B, Tq, H·hd], k and v [B, Tk, G·hd], Tk ≥ Tq → y [B, Tq, H·hd]
// With G < H key/value heads (grouped-query attention, Ainslie et al. 2023), query head h reads
// key/value head h / (H/G); G = H is plain multi-head attention.
// Per batch b and head h (the head's columns of q, k, v):
//   S = Q Kᵀ / √hd,  P = softmax(S) row-wise over the keys j ≤ Tk − Tq + i,  Y = P V
// Query i sits at absolute position Tk − Tq + i, so Tq < Tk is a decode step over a KV cache.
// Backward: dV = Pᵀ dY,  dP = dY Vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),  dQ = dS K/√hd,  dK = dSᵀ Q/√hd.
// The B·G (batch, key/value head) pairs run in parallel, each over its group of query heads, so
// the key and value gradients of a group are written by one thread; P is kept for backward.
#ifndef EVERLORA_CORE_OPS_ATTENTION_HPP
#define EVERLORA_CORE_OPS_ATTENTION_HPP

#include <cmath>
#include <memory>
#include <string>

#include "everlora/core/detail/gemm.hpp"
#include "everlora/core/detail/loops.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

template <class T>
Tensor<T> causal_attention(const Tensor<T>& q, const Tensor<T>& k, const Tensor<T>& v,
                           int n_heads, int n_kv_heads = 0) {
  if (n_kv_heads == 0) n_kv_heads = n_heads;
  const auto shapes = "q " + q.shape().str() + ", k " + k.shape().str() + ", v " + v.shape().str();
  if (q.rank() != 3)
    throw Error(ErrorKind::shape, "causal_attention: need q [B, Tq, H·hd]; got " + shapes);
  if (n_heads < 1 || q.dim(2) % n_heads != 0)
    throw Error(ErrorKind::config, "causal_attention: " + std::to_string(n_heads) +
                                       " heads do not divide C = " + std::to_string(q.dim(2)));
  if (n_kv_heads < 1 || n_heads % n_kv_heads != 0)
    throw Error(ErrorKind::config, "causal_attention: " + std::to_string(n_kv_heads) +
                                       " key/value heads do not divide " + std::to_string(n_heads) + " query heads");
  const Index hd = q.dim(2) / n_heads;
  if (k.rank() != 3 || k.shape() != v.shape() || q.dim(0) != k.dim(0) || k.dim(2) != n_kv_heads * hd ||
      k.dim(1) < q.dim(1))
    throw Error(ErrorKind::shape, "causal_attention: need q [B, Tq, H·hd], k = v [B, Tk, G·hd], Tk >= Tq, with H = " +
                                      std::to_string(n_heads) + ", G = " + std::to_string(n_kv_heads) + "; got " + shapes);
  const Index B = q.dim(0), Tq = q.dim(1), Tk = k.dim(1), C = q.dim(2), H = n_heads;
  const Index G = n_kv_heads, group = H / G, Ckv = G * hd, offset = Tk - Tq;
  const T scale = T(1) / std::sqrt(static_cast<T>(hd));
  auto probs = std::make_shared<detail::Buffer<T>>(B * H * Tq * Tk);
  Tensor<T> y = Tensor<T>::empty(q.shape());
  parallel_for(B * H, 1, [&](Index p0, Index p1) {
    for (Index p = p0; p < p1; ++p) {
      const Index b = p / H, h = p % H, kv_off = b * Tk * Ckv + (h / group) * hd;
      T* P = probs->data() + p * Tq * Tk;
      detail::gemm(false, true, Tq, Tk, hd, scale, q.data() + b * Tq * C + h * hd, C,
                   k.data() + kv_off, Ckv, T(0), P, Tk);
      for (Index i = 0; i < Tq; ++i) {  // softmax over the visible keys, zeros beyond
        const Index visible = offset + i + 1;
        auto row = detail::VecMap<T>(P + i * Tk, visible).array();
        row = (row - row.maxCoeff()).exp();
        row /= row.sum();
        std::fill(P + i * Tk + visible, P + (i + 1) * Tk, T(0));
      }
      detail::gemm(false, false, Tq, hd, Tk, T(1), P, Tk, v.data() + kv_off, Ckv, T(0),
                   y.data() + b * Tq * C + h * hd, C);
    }
  });
  if (detail::needs_grad(q, k, v))
    detail::record(y, "causal_attention", {q, k, v}, [q, k, v, probs, B, Tq, Tk, C, Ckv, H, G, group, hd, scale](const T* dy) {
      T* gq = detail::grad_ptr(q);
      T* gk = detail::grad_ptr(k);
      T* gv = detail::grad_ptr(v);
      parallel_for(B * G, 1, [&](Index p0, Index p1) {
        detail::Buffer<T> dS(Tq * Tk);
        for (Index p = p0 * group; p < p1 * group; ++p) {  // the query heads of pairs p0 … p1−1
          const Index b = p / H, h = p % H;
          const T* P = probs->data() + p * Tq * Tk;
          const T* dY = dy + b * Tq * C + h * hd;
          const Index q_off = b * Tq * C + h * hd, kv_off = b * Tk * Ckv + (h / group) * hd;
          if (gv) detail::gemm(true, false, Tk, hd, Tq, T(1), P, Tk, dY, C, T(1), gv + kv_off, Ckv);
          if (!gq && !gk) continue;
          // dP = dY Vᵀ, then dS = P ⊙ (dP − rowsum(dP ⊙ P)) in place.
          detail::gemm(false, true, Tq, Tk, hd, T(1), dY, C, v.data() + kv_off, Ckv, T(0), dS.data(), Tk);
          for (Index i = 0; i < Tq; ++i) {
            auto ds = detail::VecMap<T>(dS.data() + i * Tk, Tk).array();
            auto pr = detail::ConstVecMap<T>(P + i * Tk, Tk).array();
            ds = pr * (ds - (ds * pr).sum());
          }
          if (gq) detail::gemm(false, false, Tq, hd, Tk, scale, dS.data(), Tk, k.data() + kv_off, Ckv, T(1), gq + q_off, C);
          if (gk) detail::gemm(true, false, Tk, hd, Tq, scale, dS.data(), Tk, q.data() + q_off, C, T(1), gk + kv_off, Ckv);
        }
      });
    });
  return y;
}

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_ATTENTION_HPP
