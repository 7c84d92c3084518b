// everlora — elementwise nonlinearities with autograd: relu, gelu (GPT-2's tanh form), silu,
// tanh, sigmoid, exp, log, sqrt, abs, pow. Each is one forward formula and its derivative.
#ifndef EVERLORA_CORE_OPS_ACTIVATIONS_HPP
#define EVERLORA_CORE_OPS_ACTIVATIONS_HPP

#include <cmath>

#include "everlora/core/ops/elementwise.hpp"

namespace everlora {

namespace detail {
template <class T>
T sigmoid_value(T v) {
  return T(1) / (T(1) + std::exp(-v));
}
}  // namespace detail

/// max(x, 0). The derivative at 0 is taken as 0.
template <class T>
Tensor<T> relu(const Tensor<T>& x) {
  return detail::unary_op(x, "relu", [](T v) { return v > T(0) ? v : T(0); },
                          [](T v, T) { return v > T(0) ? T(1) : T(0); });
}

/// GELU, tanh approximation (GPT-2): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
template <class T>
Tensor<T> gelu(const Tensor<T>& x) {
  constexpr T kC = T(0.7978845608028654);  // √(2/π)
  constexpr T kA = T(0.044715);
  return detail::unary_op(
      x, "gelu",
      [](T v) { return T(0.5) * v * (T(1) + std::tanh(kC * (v + kA * v * v * v))); },
      [](T v, T) {
        const T t = std::tanh(kC * (v + kA * v * v * v));
        return T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * kC * (T(1) + T(3) * kA * v * v);
      });
}

/// SiLU (swish): x·σ(x).
template <class T>
Tensor<T> silu(const Tensor<T>& x) {
  return detail::unary_op(x, "silu", [](T v) { return v * detail::sigmoid_value(v); },
                          [](T v, T) {
                            const T s = detail::sigmoid_value(v);
                            return s * (T(1) + v * (T(1) - s));
                          });
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
