// everlora — pooling over the sequence axis with a padding mask, with autograd.
//   x [B, T, D], mask [B, T] (1 = real token, 0 = padding) → [B, D]
//   mean_pool: Σ_t m_t x_t / Σ_t m_t        max_pool: max over t with m_t = 1 (gradient to the argmax)
// A sequence with no real token is an error: its pool is undefined.
#ifndef EVERLORA_CORE_OPS_POOLING_HPP
#define EVERLORA_CORE_OPS_POOLING_HPP

#include <memory>
#include <string>
#include <vector>

#include "everlora/core/detail/loops.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

namespace detail {

template <class T>
void check_pool_args(const Tensor<T>& x, const Tensor<T>& mask, const char* op) {
  if (x.rank() != 3 || mask.rank() != 2 || mask.dim(0) != x.dim(0) || mask.dim(1) != x.dim(1))
    throw Error(ErrorKind::shape, std::string(op) + ": x must be [B, T, D] and mask [B, T], got x " +
                                      x.shape().str() + " and mask " + mask.shape().str());
  for (Index b = 0; b < x.dim(0); ++b) {
    bool any = false;
    for (Index t = 0; t < x.dim(1); ++t) any = any || mask[b * x.dim(1) + t] != T(0);
    if (!any)
      throw Error(ErrorKind::value, std::string(op) + ": sequence " + std::to_string(b) +
                                        " has no unmasked position");
  }
}

}  // namespace detail

/// Masked mean over the sequence: x [B, T, D], mask [B, T] → [B, D]. The mask gets no gradient.
template <class T>
Tensor<T> mean_pool(const Tensor<T>& x, const Tensor<T>& mask) {
  detail::check_pool_args(x, mask, "mean_pool");
  const Index B = x.dim(0), L = x.dim(1), D = x.dim(2);
  // weight[b, t] = m_t / Σ m: forward and backward are the same weighted sums.
  auto weight = std::make_shared<detail::Buffer<T>>(B * L);
  for (Index b = 0; b < B; ++b) {
    const T count = detail::ConstVecMap<T>(mask.data() + b * L, L).sum();
    for (Index t = 0; t < L; ++t) (*weight)[b * L + t] = mask[b * L + t] / count;
  }
  Tensor<T> y = Tensor<T>::zeros(Shape{B, D});
  parallel_for(B, 1, [&](Index b0, Index b1) {
    for (Index b = b0; b < b1; ++b)
      for (Index t = 0; t < L; ++t)
        if ((*weight)[b * L + t] != T(0))
          detail::VecMap<T>(y.data() + b * D, D) +=
              (*weight)[b * L + t] * detail::ConstVecMap<T>(x.data() + (b * L + t) * D, D);
  });
  if (detail::needs_grad(x))
    detail::record(y, "mean_pool", {x}, [x, weight, B, L, D](const T* dy) {
      T* gx = detail::grad_ptr(x);
      parallel_for(B * L, 16, [&](Index r0, Index r1) {
        for (Index r = r0; r < r1; ++r)
          detail::VecMap<T>(gx + r * D, D) += (*weight)[r] * detail::ConstVecMap<T>(dy + (r / L) * D, D);
      });
    });
  return y;
}

/// Masked max over the sequence: x [B, T, D], mask [B, T] → [B, D]. Ties go to the first position.
template <class T>
Tensor<T> max_pool(const Tensor<T>& x, const Tensor<T>& mask) {
  detail::check_pool_args(x, mask, "max_pool");
  const Index B = x.dim(0), L = x.dim(1), D = x.dim(2);
  auto argmax = std::make_shared<std::vector<Index>>(static_cast<std::size_t>(B * D), -1);
  Tensor<T> y = Tensor<T>::empty(Shape{B, D});
  parallel_for(B, 1, [&](Index b0, Index b1) {
    for (Index b = b0; b < b1; ++b)
      for (Index t = 0; t < L; ++t) {
        if (mask[b * L + t] == T(0)) continue;
        for (Index d = 0; d < D; ++d) {
          Index& best = (*argmax)[static_cast<std::size_t>(b * D + d)];
          const T v = x[(b * L + t) * D + d];
          if (best < 0 || v > y[b * D + d]) {
            best = t;
            y[b * D + d] = v;
          }
        }
      }
  });
  if (detail::needs_grad(x))
    detail::record(y, "max_pool", {x}, [x, argmax, B, L, D](const T* dy) {
      T* gx = detail::grad_ptr(x);
      for (Index b = 0; b < B; ++b)
        for (Index d = 0; d < D; ++d)
          gx[(b * L + (*argmax)[static_cast<std::size_t>(b * D + d)]) * D + d] += dy[b * D + d];
    });
  return y;
}

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_POOLING_HPP
