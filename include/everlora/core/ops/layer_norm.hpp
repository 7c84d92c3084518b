// everlora — layer normalisation over the last axis, fused with its affine part.
//   x̂ = (x − μ) · rstd,  rstd = 1/√(σ² + ε),  y = x̂ ⊙ w + b       (x [.., C], w and b [C])
// Backward (per row, g = dy ⊙ w):  dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)),
//   dw = Σ_rows dy ⊙ x̂,  db = Σ_rows dy.
#ifndef EVERLORA_CORE_OPS_LAYER_NORM_HPP
#define EVERLORA_CORE_OPS_LAYER_NORM_HPP

#include <cmath>
#include <memory>

#include "everlora/core/detail/loops.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

template <class T>
Tensor<T> layer_norm(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias,
                     T eps = T(1e-5)) {
  const Index rows = x.shape().rows(), cols = x.shape().last();
  if (x.rank() < 1 || weight.shape() != Shape{cols} || bias.shape() != Shape{cols})
    throw Error(ErrorKind::shape, "layer_norm: x " + x.shape().str() + " needs weight and bias [" +
                                      std::to_string(cols) + "], got " + weight.shape().str() +
                                      " and " + bias.shape().str());
  if (!(eps > T(0))) throw Error(ErrorKind::config, "layer_norm: eps must be > 0");
  Tensor<T> y = Tensor<T>::empty(x.shape());
  // x̂ is kept for backward; rstd per row.
  auto xhat = std::make_shared<detail::Buffer<T>>(rows * cols);
  auto rstd = std::make_shared<detail::Buffer<T>>(rows);
  {
    const T* px = x.data();
    T* py = y.data();
    auto w = weight.vec().array();
    auto b = bias.vec().array();
    parallel_for(rows, 16, [&](Index r0, Index r1) {
      for (Index r = r0; r < r1; ++r) {
        auto in = detail::ConstVecMap<T>(px + r * cols, cols).array();
        const T mu = in.mean();
        const T var = (in - mu).square().mean();
        const T rs = T(1) / std::sqrt(var + eps);
        auto xh = detail::VecMap<T>(xhat->data() + r * cols, cols).array();
        xh = (in - mu) * rs;
        (*rstd)[r] = rs;
        detail::VecMap<T>(py + r * cols, cols).array() = xh * w + b;
      }
    });
  }
  if (detail::needs_grad(x, weight, bias))
    detail::record(y, "layer_norm", {x, weight, bias},
                   [x, weight, bias, xhat, rstd, rows, cols](const T* dy) {
                     if (T* gx = detail::grad_ptr(x)) {
                       auto w = weight.vec().array();
                       parallel_for(rows, 16, [&](Index r0, Index r1) {
                         for (Index r = r0; r < r1; ++r) {
                           auto xh = detail::ConstVecMap<T>(xhat->data() + r * cols, cols).array();
                           auto g = detail::ConstVecMap<T>(dy + r * cols, cols).array() * w;
                           const T mean_g = g.mean();
                           const T mean_gx = (g * xh).mean();
                           detail::VecMap<T>(gx + r * cols, cols).array() +=
                               (*rstd)[r] * (g - mean_g - xh * mean_gx);
                         }
                       });
                     }
                     if (T* gw = detail::grad_ptr(weight)) {
                       detail::Buffer<T> prod(rows * cols);
                       prod.vec() = detail::ConstVecMap<T>(dy, rows * cols).cwiseProduct(xhat->vec());
                       detail::add_column_sums(prod.data(), rows, cols, gw);
                     }
                     if (T* gb = detail::grad_ptr(bias)) detail::add_column_sums(dy, rows, cols, gb);
                   });
  return y;
}

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_LAYER_NORM_HPP
