// everlora — elementwise nonlinearities with autograd: relu, gelu (GPT-2's tanh form), silu,
// swiglu (silu(gate) ⊙ up, fused), tanh, sigmoid, exp, log, sqrt, abs, pow. Each is one forward
// formula and its derivative.
#ifndef EVERLORA_CORE_OPS_ACTIVATIONS_HPP
#define EVERLORA_CORE_OPS_ACTIVATIONS_HPP

#include <cmath>
#include <memory>

#include "everlora/core/detail/loops.hpp"
#include "everlora/core/ops/elementwise.hpp"

namespace everlora {

namespace detail {
template <class T>
T sigmoid_value(T v) {
  return T(1) / (T(1) + std::exp(-v));
}

/// σ of each element of an Eigen array, vectorised (Eigen's exp), evaluated once.
template <class Array>
auto sigmoid_values(const Array& v) {
  using Scalar = typename Array::Scalar;
  return (Scalar(1) + (-v).exp()).inverse().eval();
}
}  // namespace detail

/// max(x, 0). The derivative at 0 is taken as 0.
template <class T>
Tensor<T> relu(const Tensor<T>& x) {
  return detail::unary_op(x, "relu", [](T v) { return v > T(0) ? v : T(0); },
                          [](T v, T) { return v > T(0) ? T(1) : T(0); });
}

/// GELU, tanh approximation (GPT-2): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
/// Vectorised with Eigen's tanh; tanh is kept for backward:
///   dy/dx = 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)
template <class T>
Tensor<T> gelu(const Tensor<T>& x) {
  static constexpr T kC = T(0.7978845608028654);  // √(2/π)
  static constexpr T kA = T(0.044715);
  const Index n = x.numel();
  const bool record = detail::needs_grad(x);
  auto tanh_inner = record ? std::make_shared<detail::Buffer<T>>(n) : nullptr;
  Tensor<T> y = Tensor<T>::empty(x.shape());
  parallel_for(n, 8192, [&](Index i0, Index i1) {
    auto v = detail::ConstVecMap<T>(x.data() + i0, i1 - i0).array();
    auto out = detail::VecMap<T>(y.data() + i0, i1 - i0).array();
    out = (kC * (v + kA * v.cube())).tanh();  // t, then y = 0.5·x·(1 + t)
    if (record) detail::VecMap<T>(tanh_inner->data() + i0, i1 - i0) = out.matrix();
    out = T(0.5) * v * (T(1) + out);
  });
  if (record)
    detail::record(y, "gelu", {x}, [x, tanh_inner, n](const T* dy) {
      T* gx = detail::grad_ptr(x);
      parallel_for(n, 8192, [&](Index i0, Index i1) {
        auto v = detail::ConstVecMap<T>(x.data() + i0, i1 - i0).array();
        auto t = detail::ConstVecMap<T>(tanh_inner->data() + i0, i1 - i0).array();
        detail::VecMap<T>(gx + i0, i1 - i0).array() +=
            detail::ConstVecMap<T>(dy + i0, i1 - i0).array() *
            (T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t.square()) * kC * (T(1) + T(3) * kA * v.square()));
      });
    });
  return y;
}

/// SiLU (swish): x·σ(x), vectorised with Eigen's exp; dy/dx = σ(x)·(1 + x·(1 − σ(x))).
template <class T>
Tensor<T> silu(const Tensor<T>& x) {
  const Index n = x.numel();
  Tensor<T> y = Tensor<T>::empty(x.shape());
  parallel_for(n, 8192, [&](Index i0, Index i1) {
    auto v = detail::ConstVecMap<T>(x.data() + i0, i1 - i0).array();
    detail::VecMap<T>(y.data() + i0, i1 - i0).array() = v / (T(1) + (-v).exp());
  });
  if (detail::needs_grad(x))
    detail::record(y, "silu", {x}, [x, n](const T* dy) {
      T* gx = detail::grad_ptr(x);
      parallel_for(n, 8192, [&](Index i0, Index i1) {
        auto v = detail::ConstVecMap<T>(x.data() + i0, i1 - i0).array();
        const auto s = detail::sigmoid_values(v);
        detail::VecMap<T>(gx + i0, i1 - i0).array() +=
            detail::ConstVecMap<T>(dy + i0, i1 - i0).array() * s * (T(1) + v * (T(1) - s));
      });
    });
  return y;
}

/// SwiGLU's gating (Shazeer 2020, the MLP of Llama-family blocks): silu(gate) ⊙ up in one pass,
/// with no silu(gate) tensor kept. d/dgate = dy·up·σ(g)·(1 + g·(1 − σ(g))), d/dup = dy·silu(g).
template <class T>
Tensor<T> swiglu(const Tensor<T>& gate, const Tensor<T>& up) {
  if (gate.shape() != up.shape())
    throw Error(ErrorKind::shape, "swiglu: gate " + gate.shape().str() + " and up " + up.shape().str() + " differ");
  const Index n = gate.numel();
  Tensor<T> y = Tensor<T>::empty(gate.shape());
  parallel_for(n, 8192, [&](Index i0, Index i1) {
    auto g = detail::ConstVecMap<T>(gate.data() + i0, i1 - i0).array();
    auto u = detail::ConstVecMap<T>(up.data() + i0, i1 - i0).array();
    detail::VecMap<T>(y.data() + i0, i1 - i0).array() = g * u / (T(1) + (-g).exp());
  });
  if (detail::needs_grad(gate, up))
    detail::record(y, "swiglu", {gate, up}, [gate, up, n](const T* dy) {
      T* g_gate = detail::grad_ptr(gate);
      T* g_up = detail::grad_ptr(up);
      parallel_for(n, 8192, [&](Index i0, Index i1) {
        auto g = detail::ConstVecMap<T>(gate.data() + i0, i1 - i0).array();
        auto d = detail::ConstVecMap<T>(dy + i0, i1 - i0).array();
        const auto s = detail::sigmoid_values(g);
        if (g_gate)
          detail::VecMap<T>(g_gate + i0, i1 - i0).array() +=
              d * detail::ConstVecMap<T>(up.data() + i0, i1 - i0).array() * s * (T(1) + g * (T(1) - s));
        if (g_up) detail::VecMap<T>(g_up + i0, i1 - i0).array() += d * g * s;
      });
    });
  return y;
}

template <class T>
Tensor<T> tanh(const Tensor<T>& x) {
  return detail::unary_op(x, "tanh", [](T v) { return std::tanh(v); },
                          [](T, T y) { return T(1) - y * y; });
}

/// σ(x) = 1 / (1 + e^−x).
template <class T>
Tensor<T> sigmoid(const Tensor<T>& x) {
  return detail::unary_op(x, "sigmoid", [](T v) { return detail::sigmoid_value(v); },
                          [](T, T y) { return y * (T(1) - y); });
}

template <class T>
Tensor<T> exp(const Tensor<T>& x) {
  return detail::unary_op(x, "exp", [](T v) { return std::exp(v); }, [](T, T y) { return y; });
}

/// Natural logarithm (−inf at 0, NaN below: callers keep x positive).
template <class T>
Tensor<T> log(const Tensor<T>& x) {
  return detail::unary_op(x, "log", [](T v) { return std::log(v); }, [](T v, T) { return T(1) / v; });
}

template <class T>
Tensor<T> sqrt(const Tensor<T>& x) {
  return detail::unary_op(x, "sqrt", [](T v) { return std::sqrt(v); },
                          [](T, T y) { return T(0.5) / y; });
}

/// |x|. The derivative at 0 is taken as 0 (the subgradient an L1 penalty wants).
template <class T>
Tensor<T> abs(const Tensor<T>& x) {
  return detail::unary_op(x, "abs", [](T v) { return std::abs(v); },
                          [](T v, T) { return v > T(0) ? T(1) : (v < T(0) ? T(-1) : T(0)); });
}

/// x^p for a constant exponent p.
template <class T>
Tensor<T> pow(const Tensor<T>& x, T p) {
  return detail::unary_op(x, "pow", [p](T v) { return std::pow(v, p); },
                          [p](T v, T) { return p * std::pow(v, p - T(1)); });
}

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_ACTIVATIONS_HPP
