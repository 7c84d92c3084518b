// everlora — sums and means with autograd, over all elements or along one axis.
// sum(x) → scalar; sum(x, axis, keepdim) removes (or keeps as 1) that axis. Backward spreads the
// output's gradient back over the reduced elements (divided by their count for mean).
#ifndef EVERLORA_CORE_OPS_REDUCE_HPP
#define EVERLORA_CORE_OPS_REDUCE_HPP

#include "everlora/core/detail/loops.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

namespace detail {

/// x viewed as [outer, len, inner] around `axis`.
struct AxisView {
  Index outer = 1, len = 1, inner = 1;
};
inline AxisView axis_view(const Shape& s, int axis) {
  const int a = s.normalize_axis(axis);
  AxisView v;
  for (int i = 0; i < a; ++i) v.outer *= s[i];
  v.len = s[a];
  for (int i = a + 1; i < s.rank(); ++i) v.inner *= s[i];
  return v;
}

template <class T>
Tensor<T> scaled_sum_all(const Tensor<T>& x, T scale, const char* name) {
  Tensor<T> y = Tensor<T>::scalar(scale * sum_all(x.data(), x.numel()));
  if (needs_grad(x))
    record(y, name, {x}, [x, scale](const T* dy) {
      const T g = scale * dy[0];
      VecMap<T>(grad_ptr(x), x.numel()).array() += g;
    });
  return y;
}

template <class T>
Tensor<T> scaled_sum_axis(const Tensor<T>& x, int axis, bool keepdim, T scale, const char* name) {
  const AxisView v = axis_view(x.shape(), axis);
  Tensor<T> y = Tensor<T>::empty(x.shape().reduced(axis, keepdim));
  sum_middle_axis(x.data(), v.outer, v.len, v.inner, y.data(), false);
  if (scale != T(1)) y.vec() *= scale;
  if (needs_grad(x))
    record(y, name, {x}, [x, v, scale](const T* dy) {
      T* gx = grad_ptr(x);
      parallel_for(v.outer * v.len, 64, [&](Index r0, Index r1) {
        for (Index r = r0; r < r1; ++r) {  // r = o·len + a
          const Index o = r / v.len;
          VecMap<T>(gx + r * v.inner, v.inner) += scale * ConstVecMap<T>(dy + o * v.inner, v.inner);
        }
      });
    });
  return y;
}

}  // namespace detail

/// Σ of all elements → a scalar tensor.
template <class T>
Tensor<T> sum(const Tensor<T>& x) { return detail::scaled_sum_all(x, T(1), "sum"); }

/// Mean of all elements → a scalar tensor (x must not be empty).
template <class T>
Tensor<T> mean(const Tensor<T>& x) {
  if (x.numel() == 0) throw Error(ErrorKind::value, "mean: empty tensor " + x.shape().str());
  return detail::scaled_sum_all(x, T(1) / static_cast<T>(x.numel()), "mean");
}

/// Σ along `axis` (negative counts from the end).
template <class T>
Tensor<T> sum(const Tensor<T>& x, int axis, bool keepdim = false) {
  return detail::scaled_sum_axis(x, axis, keepdim, T(1), "sum");
}

/// Mean along `axis` (negative counts from the end).
template <class T>
Tensor<T> mean(const Tensor<T>& x, int axis, bool keepdim = false) {
  const Index len = x.shape()[axis];
  if (len == 0)
    throw Error(ErrorKind::value, "mean: axis " + std::to_string(axis) + " of " +
                                      x.shape().str() + " is empty");
  return detail::scaled_sum_axis(x, axis, keepdim, T(1) / static_cast<T>(len), "mean");
}

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_REDUCE_HPP
