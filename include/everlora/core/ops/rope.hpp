// everlora — rotary position embedding (RoFormer, Su et al. 2021, eq. 34) in the "rotate half"
// layout of transformers' Llama, Qwen and Mistral: each head's hd values are two halves x₁, x₂,
//   y₁ = x₁ ⊙ cos − x₂ ⊙ sin,   y₂ = x₂ ⊙ cos + x₁ ⊙ sin        (cos, sin [T, hd/2] per position)
// Backward is the inverse rotation:  dx₁ = dy₁ ⊙ cos + dy₂ ⊙ sin,  dx₂ = dy₂ ⊙ cos − dy₁ ⊙ sin.
// rope_inverse_frequencies gives the θ_i of the plain, "linear" and "llama3" kinds
// (transformers' modeling_rope_utils); rope_angles turns them into the cos and sin tables.
#ifndef EVERLORA_CORE_OPS_ROPE_HPP
#define EVERLORA_CORE_OPS_ROPE_HPP

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "everlora/core/parallel.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

/// How rotary frequencies are scaled (config.json's rope_scaling).
struct RopeScaling {
  enum class Kind { none, linear, llama3 } kind = Kind::none;
  double factor = 1.0;
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  double original_max_position_embeddings = 8192;        // llama3
};

/// θ_i = base^(−2i/dim) for i < dim/2, scaled as `scaling` says.
inline std::vector<double> rope_inverse_frequencies(Index dim, double base, const RopeScaling& scaling) {
  constexpr double kPi = 3.14159265358979323846;
  std::vector<double> inv(static_cast<std::size_t>(dim / 2));
  for (Index i = 0; i < dim / 2; ++i) {
    double f = 1.0 / std::pow(base, static_cast<double>(2 * i) / static_cast<double>(dim));
    if (scaling.kind == RopeScaling::Kind::linear) f /= scaling.factor;
    if (scaling.kind == RopeScaling::Kind::llama3) {  // Llama 3.1: long wavelengths slowed by factor
      const double old_len = scaling.original_max_position_embeddings;
      const double wavelen = 2 * kPi / f;
      if (wavelen > old_len / scaling.low_freq_factor) {
        f /= scaling.factor;
      } else if (wavelen >= old_len / scaling.high_freq_factor) {  // smooth between the two
        const double smooth = (old_len / wavelen - scaling.low_freq_factor) /
                              (scaling.high_freq_factor - scaling.low_freq_factor);
        f = (1 - smooth) * f / scaling.factor + smooth * f;
      }
    }
    inv[static_cast<std::size_t>(i)] = f;
  }
  return inv;
}

/// cos and sin [length, dim/2] of positions start … start+length−1. The angle is formed in T from
/// T-rounded frequencies, as transformers forms it in float32.
template <class T>
std::pair<Tensor<T>, Tensor<T>> rope_angles(const std::vector<double>& inverse_frequencies, Index start,
                                            Index length) {
  const Index half = static_cast<Index>(inverse_frequencies.size());
  Tensor<T> cos = Tensor<T>::empty({length, half}), sin = Tensor<T>::empty({length, half});
  for (Index t = 0; t < length; ++t)
    for (Index i = 0; i < half; ++i) {
      const T angle = static_cast<T>(start + t) * static_cast<T>(inverse_frequencies[static_cast<std::size_t>(i)]);
      cos[t * half + i] = std::cos(angle);
      sin[t * half + i] = std::sin(angle);
    }
  return {cos, sin};
}

/// x [B, T, H·hd] rotated per head with cos, sin [T, hd/2] (constants: no gradient).
template <class T>
Tensor<T> rope(const Tensor<T>& x, int n_heads, const Tensor<T>& cos, const Tensor<T>& sin) {
  if (x.rank() != 3 || n_heads < 1 || x.dim(2) % n_heads != 0 || (x.dim(2) / n_heads) % 2 != 0)
    throw Error(ErrorKind::shape, "rope: x " + x.shape().str() + " must be [B, T, H·hd] with " +
                                      std::to_string(n_heads) + " heads of an even size");
  const Index B = x.dim(0), L = x.dim(1), C = x.dim(2), half = C / n_heads / 2;
  if (cos.shape() != Shape{L, half} || sin.shape() != Shape{L, half})
    throw Error(ErrorKind::shape, "rope: cos " + cos.shape().str() + " and sin " + sin.shape().str() +
                                      " must be [" + std::to_string(L) + ", " + std::to_string(half) + "]");
  // rotate(src, dst, direction): direction +1 is the forward rotation, −1 its inverse.
  auto rotate = [B, L, C, half, cos, sin](const T* src, T* dst, T direction, bool accumulate) {
    parallel_for(B * L, 8, [&](Index r0, Index r1) {
      for (Index r = r0; r < r1; ++r) {
        const T* c = cos.data() + (r % L) * half;
        const T* s = sin.data() + (r % L) * half;
        for (Index h = 0; h < C; h += 2 * half) {
          const T* a = src + r * C + h;
          T* out = dst + r * C + h;
          for (Index i = 0; i < half; ++i) {
            const T x1 = a[i], x2 = a[i + half], si = direction * s[i];
            const T y1 = x1 * c[i] - x2 * si, y2 = x2 * c[i] + x1 * si;
            out[i] = accumulate ? out[i] + y1 : y1;
            out[i + half] = accumulate ? out[i + half] + y2 : y2;
          }
        }
      }
    });
  };
  Tensor<T> y = Tensor<T>::empty(x.shape());
  rotate(x.data(), y.data(), T(1), false);
  if (detail::needs_grad(x))
    detail::record(y, "rope", {x}, [x, rotate](const T* dy) {
      if (T* gx = detail::grad_ptr(x)) rotate(dy, gx, T(-1), true);
    });
  return y;
}

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_ROPE_HPP
