// everlora — elementwise arithmetic with autograd: add, sub, mul, div with broadcasting over rows,
// scalar arithmetic, and the unary_op helper that the activations are built from.
//
// Broadcasting (a deliberately small set, each with a cheap backward): the operands have equal
// shapes; or one is a single value; or one is a row [C] (or [1, .., C]) repeated over every row of
// the other [.., C]; or one is a column [.., 1] with the other's leading dims, repeated along its
// rows. The gradient of a broadcast operand is the matching sum of the output's gradient.
#ifndef EVERLORA_CORE_OPS_ELEMENTWISE_HPP
#define EVERLORA_CORE_OPS_ELEMENTWISE_HPP

#include <memory>
#include <string>

#include "everlora/core/detail/loops.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

namespace detail {

/// How an operand's elements map onto the output viewed as [rows, cols].
enum class Broadcast { full, row, col, scalar };

inline bool is_row_of(const Shape& s, const Shape& out) {
  if (s.numel() != out.last() || s.rank() == 0) return false;
  for (int i = 0; i < s.rank() - 1; ++i)
    if (s[i] != 1) return false;
  return s.last() == out.last();
}
inline bool is_col_of(const Shape& s, const Shape& out) {
  if (s.rank() != out.rank() || s.rank() == 0 || s.last() != 1) return false;
  for (int i = 0; i < s.rank() - 1; ++i)
    if (s[i] != out[i]) return false;
  return true;
}

struct BinaryPlan {
  Shape out;
  Index rows = 0, cols = 0;
  Broadcast a = Broadcast::full, b = Broadcast::full;
};

inline BinaryPlan plan_binary(const Shape& sa, const Shape& sb, const char* op) {
  BinaryPlan p;
  p.out = sa.numel() >= sb.numel() ? sa : sb;
  p.cols = p.out.last();
  p.rows = p.out.rows();
  auto classify = [&](const Shape& s, Broadcast& mode) {
    if (s == p.out) mode = Broadcast::full;
    else if (s.numel() == 1) mode = Broadcast::scalar;
    else if (is_row_of(s, p.out)) mode = Broadcast::row;
    else if (is_col_of(s, p.out)) mode = Broadcast::col;
    else
      throw Error(ErrorKind::shape,
                  std::string(op) + ": cannot broadcast a " + sa.str() + " with b " + sb.str() +
                      " (supported: equal shapes, a single value, a row [C] over [.., C], or a "
                      "column [.., 1] over [.., C])");
  };
  classify(sa, p.a);
  classify(sb, p.b);
  return p;
}

/// Offset of element (r, c) of the output inside an operand broadcast with `mode`.
inline Index broadcast_index(Broadcast mode, Index r, Index c, Index cols) {
  switch (mode) {
    case Broadcast::full: return r * cols + c;
    case Broadcast::row: return c;
    case Broadcast::col: return r;
    case Broadcast::scalar: return 0;
  }
  return 0;
}

/// Adds the [rows, cols] contribution `g` into the gradient of an operand broadcast with `mode`.
template <class T>
void reduce_broadcast_grad(Broadcast mode, const T* g, Index rows, Index cols, T* grad) {
  switch (mode) {
    case Broadcast::full: VecMap<T>(grad, rows * cols) += ConstVecMap<T>(g, rows * cols); break;
    case Broadcast::row: add_column_sums(g, rows, cols, grad); break;
    case Broadcast::col: add_row_sums(g, rows, cols, grad); break;
    case Broadcast::scalar: grad[0] += sum_all(g, rows * cols); break;
  }
}

/// y = f(a, b) elementwise with broadcasting; Op provides f, da(a, b, y), db(a, b, y).
template <class Op, class T>
Tensor<T> binary_op(const Tensor<T>& a, const Tensor<T>& b, const char* name) {
  const BinaryPlan p = plan_binary(a.shape(), b.shape(), name);
  Tensor<T> y = Tensor<T>::empty(p.out);
  {
    const T* pa = a.data();
    const T* pb = b.data();
    T* py = y.data();
    const Index cols = p.cols;
    if (p.a == Broadcast::full && p.b == Broadcast::full) {
      for_each_index(p.rows * cols, [&](Index i) { py[i] = Op::f(pa[i], pb[i]); });
    } else {
      const Index grain = std::max<Index>(1, 16384 / std::max<Index>(1, cols));
      parallel_for(p.rows, grain, [&](Index r0, Index r1) {
        for (Index r = r0; r < r1; ++r)
          for (Index c = 0; c < cols; ++c)
            py[r * cols + c] = Op::f(pa[broadcast_index(p.a, r, c, cols)],
                                     pb[broadcast_index(p.b, r, c, cols)]);
      });
    }
  }
  if (needs_grad(a, b)) {
    auto y_data = y.impl()->data;
    record(y, name, {a, b}, [a, b, p, y_data](const T* dy) {
      const T* pa = a.data();
      const T* pb = b.data();
      const T* py = y_data->data();
      const Index n = p.rows * p.cols, cols = p.cols;
      const bool both_full = p.a == Broadcast::full && p.b == Broadcast::full;
      // dy[i] · ∂f/∂operand at output element i (no index arithmetic when nothing is broadcast).
      auto term = [&](Index i, auto partial) {
        const Index ia = both_full ? i : broadcast_index(p.a, i / cols, i % cols, cols);
        const Index ib = both_full ? i : broadcast_index(p.b, i / cols, i % cols, cols);
        return dy[i] * partial(pa[ia], pb[ib], py[i]);
      };
      auto accumulate = [&](Broadcast mode, T* grad, auto partial) {
        if (mode == Broadcast::full) {
          for_each_index(n, [&](Index i) { grad[i] += term(i, partial); });
          return;
        }
        Buffer<T> g(n);
        for_each_index(n, [&](Index i) { g[i] = term(i, partial); });
        reduce_broadcast_grad(mode, g.data(), p.rows, cols, grad);
      };
      if (T* ga = grad_ptr(a)) accumulate(p.a, ga, [](T x, T z, T r) { return Op::da(x, z, r); });
      if (T* gb = grad_ptr(b)) accumulate(p.b, gb, [](T x, T z, T r) { return Op::db(x, z, r); });
    });
  }
  return y;
}

struct AddOp {
  template <class T> static T f(T a, T b) { return a + b; }
  template <class T> static T da(T, T, T) { return T(1); }
  template <class T> static T db(T, T, T) { return T(1); }
};
struct SubOp {
  template <class T> static T f(T a, T b) { return a - b; }
  template <class T> static T da(T, T, T) { return T(1); }
  template <class T> static T db(T, T, T) { return T(-1); }
};
struct MulOp {
  template <class T> static T f(T a, T b) { return a * b; }
  template <class T> static T da(T, T b, T) { return b; }
  template <class T> static T db(T a, T, T) { return a; }
};
struct DivOp {
  template <class T> static T f(T a, T b) { return a / b; }
  template <class T> static T da(T, T b, T) { return T(1) / b; }
  template <class T> static T db(T, T b, T y) { return -y / b; }
};

/// y = f(x) elementwise; `derivative(x, y)` is dy/dx. The building block of activations.
template <class T, class F, class D>
Tensor<T> unary_op(const Tensor<T>& x, const char* name, F f, D derivative) {
  Tensor<T> y = Tensor<T>::empty(x.shape());
  {
    const T* px = x.data();
    T* py = y.data();
    for_each_index(x.numel(), [&](Index i) { py[i] = f(px[i]); });
  }
  if (needs_grad(x)) {
    auto y_data = y.impl()->data;
    record(y, name, {x}, [x, y_data, derivative](const T* dy) {
      T* gx = grad_ptr(x);
      const T* px = x.data();
      const T* py = y_data->data();
      for_each_index(x.numel(), [&](Index i) { gx[i] += dy[i] * derivative(px[i], py[i]); });
    });
  }
  return y;
}

}  // namespace detail

/// a + b with broadcasting (see the file comment).
template <class T>
Tensor<T> add(const Tensor<T>& a, const Tensor<T>& b) { return detail::binary_op<detail::AddOp>(a, b, "add"); }
/// a − b with broadcasting.
template <class T>
Tensor<T> sub(const Tensor<T>& a, const Tensor<T>& b) { return detail::binary_op<detail::SubOp>(a, b, "sub"); }
/// a ⊙ b with broadcasting.
template <class T>
Tensor<T> mul(const Tensor<T>& a, const Tensor<T>& b) { return detail::binary_op<detail::MulOp>(a, b, "mul"); }
/// a / b with broadcasting.
template <class T>
Tensor<T> div(const Tensor<T>& a, const Tensor<T>& b) { return detail::binary_op<detail::DivOp>(a, b, "div"); }

/// x + s.
template <class T>
Tensor<T> add_scalar(const Tensor<T>& x, T s) {
  return detail::unary_op(x, "add_scalar", [s](T v) { return v + s; }, [](T, T) { return T(1); });
}
/// x · s.
template <class T>
Tensor<T> mul_scalar(const Tensor<T>& x, T s) {
  return detail::unary_op(x, "mul_scalar", [s](T v) { return v * s; }, [s](T, T) { return s; });
}
/// s − x.
template <class T>
Tensor<T> rsub_scalar(const Tensor<T>& x, T s) {
  return detail::unary_op(x, "rsub_scalar", [s](T v) { return s - v; }, [](T, T) { return T(-1); });
}
/// s / x.
template <class T>
Tensor<T> rdiv_scalar(const Tensor<T>& x, T s) {
  return detail::unary_op(x, "rdiv_scalar", [s](T v) { return s / v; },
                          [](T v, T y) { return -y / v; });
}
/// −x.
template <class T>
Tensor<T> neg(const Tensor<T>& x) {
  return detail::unary_op(x, "neg", [](T v) { return -v; }, [](T, T) { return T(-1); });
}

template <class T> Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b) { return add(a, b); }
template <class T> Tensor<T> operator-(const Tensor<T>& a, const Tensor<T>& b) { return sub(a, b); }
template <class T> Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b) { return mul(a, b); }
template <class T> Tensor<T> operator/(const Tensor<T>& a, const Tensor<T>& b) { return div(a, b); }
template <class T> Tensor<T> operator-(const Tensor<T>& x) { return neg(x); }
template <class T> Tensor<T> operator+(const Tensor<T>& x, T s) { return add_scalar(x, s); }
template <class T> Tensor<T> operator+(T s, const Tensor<T>& x) { return add_scalar(x, s); }
template <class T> Tensor<T> operator-(const Tensor<T>& x, T s) { return add_scalar(x, -s); }
template <class T> Tensor<T> operator-(T s, const Tensor<T>& x) { return rsub_scalar(x, s); }
template <class T> Tensor<T> operator*(const Tensor<T>& x, T s) { return mul_scalar(x, s); }
template <class T> Tensor<T> operator*(T s, const Tensor<T>& x) { return mul_scalar(x, s); }
template <class T> Tensor<T> operator/(const Tensor<T>& x, T s) { return mul_scalar(x, T(1) / s); }
template <class T> Tensor<T> operator/(T s, const Tensor<T>& x) { return rdiv_scalar(x, s); }

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_ELEMENTWISE_HPP
