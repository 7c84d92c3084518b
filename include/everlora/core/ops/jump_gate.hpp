// everlora — jump_gate: keep the entries whose magnitude exceeds a learnable threshold, with
// JumpReLU's pseudo-derivative for the threshold (Rajamanoharan et al. 2024, "Jumping Ahead",
// eq. 11; JumpLoRA, METHODS.md):
//   y = x ⊙ 1[|x| > θ],   θ = exp(ℓ)    (ℓ a one-element tensor)
//   ∂y/∂x  = 1[|x| > θ]                                        (straight through where kept)
//   ∂y/∂θ  ≈ −sign(x) · (θ/ε) · K((|x| − θ)/ε),  K = 1[|u| < 1/2]   (rectangle kernel, bandwidth ε)
//   ∂L/∂ℓ  = θ · (1/n) Σ_entries ∂L/∂y · ∂y/∂θ                  (averaged over the n entries)
// The true derivative in θ is zero almost everywhere; the kernel spreads the jump of height
// sign(x)·θ at |x| = θ over a window of width ε, so entries near the threshold pull on it. It is
// averaged over the entries, as in JumpLoRA's code.
#ifndef EVERLORA_CORE_OPS_JUMP_GATE_HPP
#define EVERLORA_CORE_OPS_JUMP_GATE_HPP

#include <cmath>
#include <string>

#include "everlora/core/detail/loops.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

/// See the file comment. `log_threshold` holds ℓ (shape [1]); `bandwidth` is ε > 0.
template <class T>
Tensor<T> jump_gate(const Tensor<T>& x, const Tensor<T>& log_threshold, T bandwidth) {
  if (log_threshold.numel() != 1)
    throw Error(ErrorKind::shape, "jump_gate: the log-threshold must hold one value, got " + log_threshold.shape().str());
  if (!(bandwidth > T(0)))
    throw Error(ErrorKind::value, "jump_gate: the bandwidth must be positive, got " + std::to_string(static_cast<double>(bandwidth)));
  const T theta = std::exp(log_threshold[0]);
  const Index n = x.numel();
  Tensor<T> y = Tensor<T>::empty(x.shape());
  const T* px = x.data();
  T* py = y.data();
  parallel_for(n, 4096, [&](Index i0, Index i1) {
    for (Index i = i0; i < i1; ++i) py[i] = std::abs(px[i]) > theta ? px[i] : T(0);
  });
  if (detail::needs_grad(x, log_threshold))
    detail::record(y, "jump_gate", {x, log_threshold}, [x, log_threshold, theta, bandwidth, n](const T* dy) {
      const T* xs = x.data();
      if (T* gx = detail::grad_ptr(x))
        for (Index i = 0; i < n; ++i)
          if (std::abs(xs[i]) > theta) gx[i] += dy[i];
      if (T* gl = detail::grad_ptr(log_threshold)) {
        T d_theta = 0;
        for (Index i = 0; i < n; ++i)
          if (std::abs(std::abs(xs[i]) - theta) < bandwidth / 2)
            d_theta -= dy[i] * (xs[i] > 0 ? T(1) : T(-1)) * theta / bandwidth;
        gl[0] += d_theta * theta / static_cast<T>(n);
      }
    });
  return y;
}

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_JUMP_GATE_HPP
