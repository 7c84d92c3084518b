// everlora — RMS normalisation over the last axis with a learned scale (Llama, Qwen, Mistral).
//   rstd = 1/√(mean(x²) + ε),  x̂ = x · rstd,  y = x̂ ⊙ w                 (x [.., C], w [C])
// Backward (per row, g = dy ⊙ w):  dx = rstd · (g − x̂ · mean(g ⊙ x̂)),  dw = Σ_rows dy ⊙ x̂.
// As transformers' LlamaRMSNorm: the statistics are taken in the tensor's own precision here,
// which for float equals its float32 upcast.
#ifndef EVERLORA_CORE_OPS_RMS_NORM_HPP
#define EVERLORA_CORE_OPS_RMS_NORM_HPP

#include <cmath>
#include <memory>
#include <string>

#include "everlora/core/detail/loops.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

template <class T>
Tensor<T> rms_norm(const Tensor<T>& x, const Tensor<T>& weight, T eps = T(1e-6)) {
  if (x.rank() < 1 || weight.shape() != Shape{x.shape().last()})
    throw Error(ErrorKind::shape, "rms_norm: x " + x.shape().str() + " needs weight [" +
                                      std::to_string(x.rank() < 1 ? 0 : x.shape().last()) +
                                      "], got " + weight.shape().str());
  if (!(eps > T(0))) throw Error(ErrorKind::config, "rms_norm: eps must be > 0");
  const Index rows = x.shape().rows(), cols = x.shape().last();
  Tensor<T> y = Tensor<T>::empty(x.shape());
  auto rstd = std::make_shared<detail::Buffer<T>>(rows);
  {
    const T* px = x.data();
    T* py = y.data();
    auto w = weight.vec().array();
    parallel_for(rows, 16, [&](Index r0, Index r1) {
      for (Index r = r0; r < r1; ++r) {
        auto in = detail::ConstVecMap<T>(px + r * cols, cols).array();
        const T rs = T(1) / std::sqrt(in.square().mean() + eps);
        (*rstd)[r] = rs;
        detail::VecMap<T>(py + r * cols, cols).array() = (in * rs) * w;
      }
    });
  }
  if (detail::needs_grad(x, weight))
    detail::record(y, "rms_norm", {x, weight}, [x, weight, rstd, rows, cols](const T* dy) {
      if (T* gx = detail::grad_ptr(x)) {
        auto w = weight.vec().array();
        parallel_for(rows, 16, [&](Index r0, Index r1) {
          for (Index r = r0; r < r1; ++r) {
            const T rs = (*rstd)[r];
            auto xh = detail::ConstVecMap<T>(x.data() + r * cols, cols).array() * rs;
            auto g = detail::ConstVecMap<T>(dy + r * cols, cols).array() * w;
            const T mean_gx = (g * xh).mean();
            detail::VecMap<T>(gx + r * cols, cols).array() += rs * (g - xh * mean_gx);
          }
        });
      }
      if (T* gw = detail::grad_ptr(weight)) {
        detail::Buffer<T> prod(rows * cols);
        for (Index r = 0; r < rows; ++r)
          detail::VecMap<T>(prod.data() + r * cols, cols).array() =
              detail::ConstVecMap<T>(dy + r * cols, cols).array() *
              detail::ConstVecMap<T>(x.data() + r * cols, cols).array() * (*rstd)[r];
        detail::add_column_sums(prod.data(), rows, cols, gw);
      }
    });
  return y;
}

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_RMS_NORM_HPP
