// everlora — Tensor<T>: a handle to a contiguous row-major array of float or double (rank 0 to 4)
// that can take part in reverse-mode autograd.
//
//   Tensor<float> w = Tensor<float>::normal(Shape{4, 3}, rng, 0, 1).requires_grad_();
//   Tensor<float> y = sum(relu(matmul(x, w)));
//   y.backward();            // w.grad() now holds dy/dw
//
// Copies are cheap and share storage (like a shared_ptr); clone() copies the values.
#ifndef EVERLORA_CORE_TENSOR_HPP
#define EVERLORA_CORE_TENSOR_HPP

#include "everlora/core/detail/eigen.hpp"
#include <algorithm>
#include <functional>
#include <memory>
#include <ostream>
#include <type_traits>
#include <vector>

#include "everlora/config.hpp"
#include "everlora/core/detail/buffer.hpp"
#include "everlora/core/detail/gemm.hpp"
#include "everlora/core/error.hpp"
#include "everlora/core/random.hpp"
#include "everlora/core/shape.hpp"

namespace everlora {

template <class T>
class Tensor;

namespace detail {

template <class T>
struct TensorImpl;

/// One recorded operation: the inputs to walk back to, and the rule that adds the output's
/// gradient (`grad_out`, laid out like the output) into the inputs' gradients.
template <class T>
struct Node {
  const char* op = "";
  std::vector<std::shared_ptr<TensorImpl<T>>> inputs;
  std::function<void(const T* grad_out)> backward;
};

template <class T>
struct TensorImpl {
  Shape shape;
  std::shared_ptr<Buffer<T>> data;   // may be shared with reshape()d views
  std::shared_ptr<Buffer<T>> grad;   // allocated on first accumulation, only if requires_grad
  std::shared_ptr<Node<T>> grad_fn;  // null for leaves
  bool requires_grad = false;
  bool retain_grad = false;     // keep a non-leaf's gradient after backward()
  bool graph_released = false;  // backward() already consumed and freed this tensor's node
};

}  // namespace detail

/// A tensor of float or double. See the file comment for an example.
template <class T>
class Tensor {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "everlora::Tensor supports float and double");

 public:
  using Scalar = T;
  using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  using Matrix = detail::RowMatrix<T>;

  /// An undefined tensor (defined() is false); most uses throw.
  Tensor() = default;

  /// Uninitialised values: for ops that overwrite every element.
  static Tensor empty(const Shape& shape) {
    Tensor t;
    t.impl_ = std::make_shared<detail::TensorImpl<T>>();
    t.impl_->shape = shape;
    t.impl_->data = std::make_shared<detail::Buffer<T>>(shape.numel());
    return t;
  }
  static Tensor full(const Shape& shape, T value) {
    Tensor t = empty(shape);
    t.impl_->data->set_constant(value);
    return t;
  }
  static Tensor zeros(const Shape& shape) { return full(shape, T(0)); }
  static Tensor ones(const Shape& shape) { return full(shape, T(1)); }
  static Tensor scalar(T value) { return full(Shape{}, value); }
  /// Copies `values` (row-major); their count must equal shape.numel().
  static Tensor from_vector(const Shape& shape, const std::vector<T>& values) {
    if (static_cast<Index>(values.size()) != shape.numel())
      throw Error(ErrorKind::shape, "Tensor::from_vector: " + std::to_string(values.size()) +
                                        " values for shape " + shape.str() + " (" +
                                        std::to_string(shape.numel()) + " elements)");
    Tensor t = empty(shape);
    std::copy(values.begin(), values.end(), t.data());
    return t;
  }
  /// Values drawn uniformly from [lo, hi).
  static Tensor uniform(const Shape& shape, Rng& rng, T lo, T hi) {
    Tensor t = empty(shape);
    for (Index i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(rng.uniform(lo, hi));
    return t;
  }
  /// Values drawn from a normal distribution.
  static Tensor normal(const Shape& shape, Rng& rng, T mean, T stddev) {
    Tensor t = empty(shape);
    for (Index i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(rng.normal(mean, stddev));
    return t;
  }

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl()->shape; }
  int rank() const { return shape().rank(); }
  Index dim(int axis) const { return shape()[axis]; }
  Index numel() const { return shape().numel(); }

  T* data() { return impl()->data->data(); }
  const T* data() const { return impl()->data->data(); }
  T& operator[](Index i) { return data()[i]; }
  const T& operator[](Index i) const { return data()[i]; }
  /// All values as a flat Eigen vector view.
  Eigen::Map<Vector> vec() { return Eigen::Map<Vector>(data(), numel()); }
  Eigen::Map<const Vector> vec() const { return Eigen::Map<const Vector>(data(), numel()); }
  /// The values as a [rows, last dim] row-major matrix view.
  Eigen::Map<Matrix> matrix() { return Eigen::Map<Matrix>(data(), shape().rows(), shape().last()); }
  Eigen::Map<const Matrix> matrix() const {
    return Eigen::Map<const Matrix>(data(), shape().rows(), shape().last());
  }
  /// The single value of a one-element tensor.
  T item() const {
    if (numel() != 1)
      throw Error(ErrorKind::shape, "Tensor::item: shape " + shape().str() + " has " +
                                        std::to_string(numel()) + " elements, not 1");
    return data()[0];
  }
  std::vector<T> to_vector() const { return std::vector<T>(data(), data() + numel()); }

  // ---- autograd -------------------------------------------------------------------------------
  bool requires_grad() const { return impl()->requires_grad; }
  /// Marks a leaf as a parameter whose gradient backward() accumulates. Returns *this.
  Tensor& requires_grad_(bool on = true) {
    if (!is_leaf())
      throw Error(ErrorKind::autograd, std::string("requires_grad_: the tensor is the output of '") +
                                           op() + "'; only leaves can be marked (use detach())");
    impl()->requires_grad = on;
    if (!on) impl()->grad.reset();
    return *this;
  }
  bool is_leaf() const { return impl()->grad_fn == nullptr && !impl()->graph_released; }
  /// The op that produced this tensor, "leaf", or "released" once backward() freed its node.
  const char* op() const {
    if (impl()->grad_fn) return impl()->grad_fn->op;
    return impl()->graph_released ? "released" : "leaf";
  }
  bool has_grad() const { return impl()->grad != nullptr; }
  /// The accumulated gradient, sharing its buffer (no graph).
  Tensor grad() const {
    if (!has_grad())
      throw Error(ErrorKind::autograd, "Tensor::grad: no gradient for a tensor of shape " +
                                           shape().str() + " (requires_grad " +
                                           (requires_grad() ? "set" : "not set") +
                                           ", or backward() has not reached it)");
    Tensor g;
    g.impl_ = std::make_shared<detail::TensorImpl<T>>();
    g.impl_->shape = shape();
    g.impl_->data = impl()->grad;
    return g;
  }
  /// Sets the gradient to zero, keeping its buffer for the next step.
  void zero_grad() {
    if (has_grad()) impl()->grad->set_zero();
  }
  /// Keeps this non-leaf tensor's gradient after backward() (leaves always keep theirs).
  void retain_grad() { impl()->retain_grad = true; }
  /// Backpropagates from a one-element tensor. The graph is freed unless retain_graph.
  void backward(bool retain_graph = false) const;
  /// Backpropagates `seed` (same shape as this tensor) through the graph.
  void backward(const Tensor& seed, bool retain_graph = false) const;

  /// The same values, outside the graph (shares storage).
  Tensor detach() const {
    Tensor t;
    t.impl_ = std::make_shared<detail::TensorImpl<T>>();
    t.impl_->shape = shape();
    t.impl_->data = impl()->data;
    return t;
  }
  /// A deep copy of the values, outside the graph.
  Tensor clone() const {
    Tensor t = empty(shape());
    t.vec() = vec();
    return t;
  }

  /// The shared state, for ops and the autograd engine.
  detail::TensorImpl<T>* impl() const {
    if (!impl_) throw Error(ErrorKind::value, "use of an undefined (default-constructed) Tensor");
    return impl_.get();
  }
  const std::shared_ptr<detail::TensorImpl<T>>& impl_ptr() const { return impl_; }
  /// A tensor of a new shape over the same storage (reshape's forward).
  Tensor view_as(const Shape& shape) const {
    Tensor t;
    t.impl_ = std::make_shared<detail::TensorImpl<T>>();
    t.impl_->shape = shape;
    t.impl_->data = impl()->data;
    return t;
  }

 private:
  std::shared_ptr<detail::TensorImpl<T>> impl_;
};

/// Prints the shape and up to the first 8 values: "Tensor[2, 3](0.1, 0.2, …)".
template <class T>
std::ostream& operator<<(std::ostream& os, const Tensor<T>& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor" << t.shape().str() << "(";
  const Index shown = std::min<Index>(t.numel(), 8);
  for (Index i = 0; i < shown; ++i) os << (i ? ", " : "") << t[i];
  if (t.numel() > shown) os << ", ...";
  return os << ")";
}

}  // namespace everlora

#include "everlora/core/autograd.hpp"

#endif  // EVERLORA_CORE_TENSOR_HPP
