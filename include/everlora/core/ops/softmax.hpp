// everlora — softmax and log-softmax over the last axis, with autograd.
// Rows are shifted by their maximum first, so large logits never overflow.
//   softmax:     y = e^(x − max) / Σ e^(x − max);   dx = y ⊙ (dy − Σ dy⊙y)
//   log_softmax: y = x − logsumexp(x);              dx = dy − softmax(x) · Σ dy
#ifndef EVERLORA_CORE_OPS_SOFTMAX_HPP
#define EVERLORA_CORE_OPS_SOFTMAX_HPP

#include <cmath>

#include "everlora/core/detail/loops.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

namespace detail {

/// y[r, :] = softmax(x[r, :]) for `rows` rows of length `cols` (y may alias x).
template <class T>
void softmax_rows(const T* x, T* y, Index rows, Index cols) {
  parallel_for(rows, std::max<Index>(1, 4096 / std::max<Index>(1, cols)), [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      auto in = ConstVecMap<T>(x + r * cols, cols).array();
      auto out = VecMap<T>(y + r * cols, cols).array();
      const T m = in.maxCoeff();
      out = (in - m).exp();
      out /= out.sum();
    }
  });
}

/// y[r, :] = x[r, :] − logsumexp(x[r, :]) (y may alias x).
template <class T>
void log_softmax_rows(const T* x, T* y, Index rows, Index cols) {
  parallel_for(rows, std::max<Index>(1, 4096 / std::max<Index>(1, cols)), [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      auto in = ConstVecMap<T>(x + r * cols, cols).array();
      const T m = in.maxCoeff();
      const T lse = m + std::log((in - m).exp().sum());
      VecMap<T>(y + r * cols, cols).array() = in - lse;
    }
  });
}

}  // namespace detail

/// Softmax over the last axis.
template <class T>
Tensor<T> softmax(const Tensor<T>& x) {
  const Index rows = x.shape().rows(), cols = x.shape().last();
  Tensor<T> y = Tensor<T>::empty(x.shape());
  detail::softmax_rows(x.data(), y.data(), rows, cols);
  if (detail::needs_grad(x)) {
    auto y_data = y.impl()->data;
    detail::record(y, "softmax", {x}, [x, y_data, rows, cols](const T* dy) {
      T* gx = detail::grad_ptr(x);
      const T* py = y_data->data();
      parallel_for(rows, 16, [&](Index r0, Index r1) {
        for (Index r = r0; r < r1; ++r) {
          auto yr = detail::ConstVecMap<T>(py + r * cols, cols).array();
          auto dyr = detail::ConstVecMap<T>(dy + r * cols, cols).array();
          const T dot = (yr * dyr).sum();
          detail::VecMap<T>(gx + r * cols, cols).array() += yr * (dyr - dot);
        }
      });
    });
  }
  return y;
}

/// Log-softmax over the last axis.
template <class T>
Tensor<T> log_softmax(const Tensor<T>& x) {
  const Index rows = x.shape().rows(), cols = x.shape().last();
  Tensor<T> y = Tensor<T>::empty(x.shape());
  detail::log_softmax_rows(x.data(), y.data(), rows, cols);
  if (detail::needs_grad(x)) {
    auto y_data = y.impl()->data;
    detail::record(y, "log_softmax", {x}, [x, y_data, rows, cols](const T* dy) {
      T* gx = detail::grad_ptr(x);
      const T* py = y_data->data();
      parallel_for(rows, 16, [&](Index r0, Index r1) {
        for (Index r = r0; r < r1; ++r) {
          auto dyr = detail::ConstVecMap<T>(dy + r * cols, cols).array();
          const T total = dyr.sum();
          detail::VecMap<T>(gx + r * cols, cols).array() +=
              dyr - detail::ConstVecMap<T>(py + r * cols, cols).array().exp() * total;
        }
      });
    });
  }
  return y;
}

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_SOFTMAX_HPP
