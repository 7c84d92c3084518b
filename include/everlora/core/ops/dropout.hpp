// everlora — inverted dropout with autograd: each element is kept with probability 1 − p and
// scaled by 1/(1 − p), so the expectation is unchanged and inference needs no rescaling.
// The mask of element i is a hash of (a key drawn from rng, i): the same seed gives the same mask
// on any thread count.
#ifndef EVERLORA_CORE_OPS_DROPOUT_HPP
#define EVERLORA_CORE_OPS_DROPOUT_HPP

#include <memory>
#include <string>

#include "everlora/core/detail/loops.hpp"
#include "everlora/core/random.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

/// Drops each element with probability p ∈ [0, 1). p = 0 returns x itself.
template <class T>
Tensor<T> dropout(const Tensor<T>& x, double p, Rng& rng) {
  if (!(p >= 0.0 && p < 1.0))
    throw Error(ErrorKind::config, "dropout: p = " + std::to_string(p) + " is outside [0, 1)");
  if (p == 0.0) return x;
  const std::uint64_t key = rng.next_u64();
  const T scale = static_cast<T>(1.0 / (1.0 - p));
  // The mask holds 0 or `scale` per element: forward and backward are both one multiply.
  auto mask = std::make_shared<detail::Buffer<T>>(x.numel());
  Tensor<T> y = Tensor<T>::empty(x.shape());
  {
    const T* px = x.data();
    T* py = y.data();
    T* pm = mask->data();
    detail::for_each_index(x.numel(), [&](Index i) {
      const std::uint64_t bits = detail::mix64(key + 0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(i + 1));
      pm[i] = detail::unit_double(bits) >= p ? scale : T(0);
      py[i] = px[i] * pm[i];
    });
  }
  if (detail::needs_grad(x))
    detail::record(y, "dropout", {x}, [x, mask](const T* dy) {
      detail::VecMap<T>(detail::grad_ptr(x), x.numel()) +=
          detail::ConstVecMap<T>(dy, x.numel()).cwiseProduct(mask->vec());
    });
  return y;
}

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_DROPOUT_HPP
