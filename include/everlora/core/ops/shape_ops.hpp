// everlora — ops that move values without arithmetic, with autograd: reshape (shares storage),
// transpose of two axes, slice along an axis, and concat along an axis (these copy).
#ifndef EVERLORA_CORE_OPS_SHAPE_OPS_HPP
#define EVERLORA_CORE_OPS_SHAPE_OPS_HPP

#include <algorithm>
#include <string>
#include <vector>

#include "everlora/core/detail/loops.hpp"
#include "everlora/core/ops/reduce.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

namespace detail {

/// dst (+)= src with axes d0 and d1 swapped; src has shape `s` (rank ≤ 4, padded to 4 here).
template <class T>
void swap_axes_copy(const T* src, const Shape& s, int d0, int d1, T* dst, bool accumulate) {
  Index dims[4] = {1, 1, 1, 1};
  const int pad = 4 - s.rank();
  for (int i = 0; i < s.rank(); ++i) dims[pad + i] = s[i];
  Index src_stride[4];
  src_stride[3] = 1;
  for (int i = 2; i >= 0; --i) src_stride[i] = src_stride[i + 1] * dims[i + 1];
  // Output dims/strides: the input's with the two axes exchanged.
  Index out_dims[4] = {dims[0], dims[1], dims[2], dims[3]};
  Index stride[4] = {src_stride[0], src_stride[1], src_stride[2], src_stride[3]};
  std::swap(out_dims[pad + d0], out_dims[pad + d1]);
  std::swap(stride[pad + d0], stride[pad + d1]);
  parallel_for(out_dims[0] * out_dims[1], 1, [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      const Index i0 = r / out_dims[1], i1 = r % out_dims[1];
      T* out = dst + r * out_dims[2] * out_dims[3];
      for (Index i2 = 0; i2 < out_dims[2]; ++i2)
        for (Index i3 = 0; i3 < out_dims[3]; ++i3) {
          const T v = src[i0 * stride[0] + i1 * stride[1] + i2 * stride[2] + i3 * stride[3]];
          T& o = out[i2 * out_dims[3] + i3];
          o = accumulate ? o + v : v;
        }
    }
  });
}

}  // namespace detail

/// The same values in a new shape with the same number of elements (no copy: shares storage).
template <class T>
Tensor<T> reshape(const Tensor<T>& x, const Shape& shape) {
  if (shape.numel() != x.numel())
    throw Error(ErrorKind::shape, "reshape: cannot view " + x.shape().str() + " (" +
                                      std::to_string(x.numel()) + " elements) as " + shape.str() +
                                      " (" + std::to_string(shape.numel()) + ")");
  Tensor<T> y = x.view_as(shape);
  if (detail::needs_grad(x))
    detail::record(y, "reshape", {x}, [x](const T* dy) {
      detail::VecMap<T>(detail::grad_ptr(x), x.numel()) += detail::ConstVecMap<T>(dy, x.numel());
    });
  return y;
}

/// Exchanges axes d0 and d1 (negative counts from the end); the result is contiguous.
template <class T>
Tensor<T> transpose(const Tensor<T>& x, int d0, int d1) {
  const Shape& s = x.shape();
  const int a0 = s.normalize_axis(d0), a1 = s.normalize_axis(d1);
  Shape out = s;
  std::swap(out[a0], out[a1]);
  Tensor<T> y = Tensor<T>::empty(out);
  detail::swap_axes_copy(x.data(), s, a0, a1, y.data(), false);
  if (detail::needs_grad(x))
    detail::record(y, "transpose", {x}, [x, out, a0, a1](const T* dy) {
      detail::swap_axes_copy(dy, out, a0, a1, detail::grad_ptr(x), true);
    });
  return y;
}

/// Elements start..end−1 along `axis`.
template <class T>
Tensor<T> slice(const Tensor<T>& x, int axis, Index start, Index end) {
  const Shape& s = x.shape();
  const int a = s.normalize_axis(axis);
  if (start < 0 || end > s[a] || start >= end)
    throw Error(ErrorKind::index, "slice: range [" + std::to_string(start) + ", " +
                                      std::to_string(end) + ") is empty or outside axis " +
                                      std::to_string(axis) + " of " + s.str());
  const detail::AxisView v = detail::axis_view(s, a);
  const Index len = end - start, block = len * v.inner;
  Shape out = s;
  out[a] = len;
  Tensor<T> y = Tensor<T>::empty(out);
  const T* px = x.data();
  T* py = y.data();
  parallel_for(v.outer, 16, [&](Index o0, Index o1) {
    for (Index o = o0; o < o1; ++o)
      std::copy_n(px + (o * v.len + start) * v.inner, block, py + o * block);
  });
  if (detail::needs_grad(x))
    detail::record(y, "slice", {x}, [x, v, start, block](const T* dy) {
      T* gx = detail::grad_ptr(x);
      parallel_for(v.outer, 16, [&](Index o0, Index o1) {
        for (Index o = o0; o < o1; ++o)
          detail::VecMap<T>(gx + (o * v.len + start) * v.inner, block) +=
              detail::ConstVecMap<T>(dy + o * block, block);
      });
    });
  return y;
}

/// Each row of x [R, C] repeated `times` times in place: [R·times, C], row r·times + i = row r.
/// The gradient of row r is the sum of its copies' gradients.
template <class T>
Tensor<T> repeat_rows(const Tensor<T>& x, Index times) {
  if (x.rank() != 2 || times < 1)
    throw Error(ErrorKind::shape, "repeat_rows: x " + x.shape().str() + " must be [R, C] and times (" +
                                      std::to_string(times) + ") at least 1");
  const Index rows = x.dim(0), cols = x.dim(1);
  Tensor<T> y = Tensor<T>::empty({rows * times, cols});
  for (Index r = 0; r < rows; ++r)
    for (Index i = 0; i < times; ++i) std::copy_n(x.data() + r * cols, cols, y.data() + (r * times + i) * cols);
  if (detail::needs_grad(x))
    detail::record(y, "repeat_rows", {x}, [x, rows, cols, times](const T* dy) {
      T* gx = detail::grad_ptr(x);
      for (Index r = 0; r < rows; ++r)
        for (Index i = 0; i < times; ++i)
          detail::VecMap<T>(gx + r * cols, cols) += detail::ConstVecMap<T>(dy + (r * times + i) * cols, cols);
    });
  return y;
}

/// Joins tensors along `axis`; all other dimensions must agree.
template <class T>
Tensor<T> concat(const std::vector<Tensor<T>>& parts, int axis) {
  if (parts.empty()) throw Error(ErrorKind::shape, "concat: no tensors to join");
  const Shape& s0 = parts[0].shape();
  const int a = s0.normalize_axis(axis);
  Shape out = s0;
  out[a] = 0;
  for (const auto& p : parts) {
    bool same = p.rank() == s0.rank();
    for (int i = 0; same && i < s0.rank(); ++i) same = i == a || p.shape()[i] == s0[i];
    if (!same)
      throw Error(ErrorKind::shape, "concat: " + p.shape().str() + " does not match " +
                                        s0.str() + " outside axis " + std::to_string(axis));
    out[a] += p.shape()[a];
  }
  const detail::AxisView v = detail::axis_view(out, a);
  Tensor<T> y = Tensor<T>::empty(out);
  Index offset = 0;  // along the axis
  for (const auto& p : parts) {
    const Index block = p.shape()[a] * v.inner;
    for (Index o = 0; o < v.outer; ++o)
      std::copy_n(p.data() + o * block, block, y.data() + (o * v.len + offset) * v.inner);
    offset += p.shape()[a];
  }
  if (detail::needs_grad(parts))
    detail::record(y, "concat", parts, [parts, v, a](const T* dy) {
      Index off = 0;
      for (const auto& p : parts) {
        const Index block = p.shape()[a] * v.inner;
        if (T* gp = detail::grad_ptr(p))
          for (Index o = 0; o < v.outer; ++o)
            detail::VecMap<T>(gp + o * block, block) +=
                detail::ConstVecMap<T>(dy + (o * v.len + off) * v.inner, block);
        off += p.shape()[a];
      }
    });
  return y;
}

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_SHAPE_OPS_HPP
