// everlora — the LoRA math as plain functions over Eigen matrices, for any trainer.
//
// A linear layer with a LoRA update, y = x·W0ᵀ + b + s·(x·Aᵀ)·Bᵀ, and its backward, without
// everlora's tensors, modules or autograd: put LoRA on the linear layers of a model everlora never
// saw. Shapes (row-major): x [N, in], W0 [out, in], b [out], A [r, in], B [out, r], y [N, out].
// W0 + s·B·A is never formed; the cost is the base GEMM plus two skinny ones.
//
//   everlora::LoraWorkspace<float> ws;
//   everlora::lora_forward(x, W0, b, A, B, s, y, ws);      // keeps x·Aᵀ in ws for backward
//   everlora::lora_backward(x, W0, A, B, s, ws, dY, dX, dA, dB);
//
// examples/own_trainer.cpp trains a two-layer network with them.
#ifndef EVERLORA_ADAPTERS_LORA_MATH_HPP
#define EVERLORA_ADAPTERS_LORA_MATH_HPP

#include <string>

#include "everlora/core/detail/eigen.hpp"
#include "everlora/core/detail/gemm.hpp"
#include "everlora/core/error.hpp"

namespace everlora {

/// A row-major dynamic matrix, and the references the functions take (a Matrix, a Map or a
/// block with unit inner stride all bind).
template <class T>
using RowMatrix = detail::RowMatrix<T>;
template <class T>
using MatrixIn = Eigen::Ref<const RowMatrix<T>>;
template <class T>
using MatrixOut = Eigen::Ref<RowMatrix<T>>;
template <class T>
using VectorIn = Eigen::Ref<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;

/// What lora_forward keeps for lora_backward: u = x·Aᵀ [N, r].
template <class T>
struct LoraWorkspace {
  RowMatrix<T> u;
};

namespace detail {

inline std::string dims(Index rows, Index cols) {
  return "[" + std::to_string(rows) + ", " + std::to_string(cols) + "]";
}

template <class T>
void check_lora_shapes(const MatrixIn<T>& x, const MatrixIn<T>& w0, const MatrixIn<T>& a,
                       const MatrixIn<T>& b, const char* api) {
  const bool ok = x.cols() == w0.cols() && a.cols() == w0.cols() && b.rows() == w0.rows() &&
                  b.cols() == a.rows();
  if (!ok)
    throw Error(ErrorKind::shape, std::string(api) + ": x " + dims(x.rows(), x.cols()) + ", W0 " +
                                      dims(w0.rows(), w0.cols()) + ", A " + dims(a.rows(), a.cols()) +
                                      ", B " + dims(b.rows(), b.cols()) +
                                      " do not fit x [N, in], W0 [out, in], A [r, in], B [out, r]");
}

}  // namespace detail

/// y = x·W0ᵀ + bias + scale·(x·Aᵀ)·Bᵀ. `bias` may be empty (size 0). y must be [N, out].
template <class T>
void lora_forward(const MatrixIn<T>& x, const MatrixIn<T>& w0, const VectorIn<T>& bias,
                  const MatrixIn<T>& a, const MatrixIn<T>& b, T scale, MatrixOut<T> y,
                  LoraWorkspace<T>& ws) {
  detail::check_lora_shapes<T>(x, w0, a, b, "lora_forward");
  const Index n = x.rows(), in = x.cols(), out = w0.rows(), r = a.rows();
  if (y.rows() != n || y.cols() != out || (bias.size() != 0 && bias.size() != out))
    throw Error(ErrorKind::shape, "lora_forward: y " + detail::dims(y.rows(), y.cols()) +
                                      " must be " + detail::dims(n, out) + " and bias [" +
                                      std::to_string(out) + "] or empty");
  ws.u.resize(n, r);
  detail::gemm(false, true, n, out, in, T(1), x.data(), x.outerStride(), w0.data(),
               w0.outerStride(), T(0), y.data(), y.outerStride());
  if (bias.size() != 0) y.rowwise() += bias.transpose();
  detail::gemm(false, true, n, r, in, T(1), x.data(), x.outerStride(), a.data(), a.outerStride(),
               T(0), ws.u.data(), r);
  detail::gemm(false, true, n, out, r, scale, ws.u.data(), r, b.data(), b.outerStride(), T(1),
               y.data(), y.outerStride());
}

/// Given dY = ∂L/∂y [N, out], writes (overwrites)
///   dX = dY·W0 + s·(dY·B)·A   [N, in]
///   dA = s·(dY·B)ᵀ·x          [r, in]
///   dB = s·dYᵀ·(x·Aᵀ)         [out, r]
/// W0 gets no gradient: it is the frozen base. ws must come from lora_forward on the same x.
template <class T>
void lora_backward(const MatrixIn<T>& x, const MatrixIn<T>& w0, const MatrixIn<T>& a,
                   const MatrixIn<T>& b, T scale, const LoraWorkspace<T>& ws,
                   const MatrixIn<T>& dy, MatrixOut<T> dx, MatrixOut<T> da, MatrixOut<T> db) {
  detail::check_lora_shapes<T>(x, w0, a, b, "lora_backward");
  const Index n = x.rows(), in = x.cols(), out = w0.rows(), r = a.rows();
  const bool ok = dy.rows() == n && dy.cols() == out && dx.rows() == n && dx.cols() == in &&
                  da.rows() == r && da.cols() == in && db.rows() == out && db.cols() == r &&
                  ws.u.rows() == n && ws.u.cols() == r;
  if (!ok)
    throw Error(ErrorKind::shape, "lora_backward: dY " + detail::dims(dy.rows(), dy.cols()) +
                                      ", dX " + detail::dims(dx.rows(), dx.cols()) + ", dA " +
                                      detail::dims(da.rows(), da.cols()) + ", dB " +
                                      detail::dims(db.rows(), db.cols()) +
                                      " or the workspace do not match the forward pass");
  RowMatrix<T> g(n, r);  // s·dY·B [N, r]
  detail::gemm(false, false, n, r, out, scale, dy.data(), dy.outerStride(), b.data(),
               b.outerStride(), T(0), g.data(), r);
  detail::gemm(false, false, n, in, out, T(1), dy.data(), dy.outerStride(), w0.data(),
               w0.outerStride(), T(0), dx.data(), dx.outerStride());
  detail::gemm(false, false, n, in, r, T(1), g.data(), r, a.data(), a.outerStride(), T(1),
               dx.data(), dx.outerStride());
  detail::gemm(true, false, r, in, n, T(1), g.data(), r, x.data(), x.outerStride(), T(0),
               da.data(), da.outerStride());
  detail::gemm(true, false, out, r, n, scale, dy.data(), dy.outerStride(), ws.u.data(), r, T(0),
               db.data(), db.outerStride());
}

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_LORA_MATH_HPP
