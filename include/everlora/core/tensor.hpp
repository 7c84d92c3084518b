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
#include <utility>
#include <vector>

#include "everlora/config.hpp"
#include "everlora/core/detail/bf16.hpp"
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
  std::shared_ptr<Buffer<T>> data;   // may be shared with reshape()d views; null when held in bf16
  std::shared_ptr<Bf16Buffer> bf16;  // the values of a float tensor held in bf16, else null
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
  /// Zeros held in bf16 (see hold_in_bf16): a frozen float weight for a checkpoint to fill.
  static Tensor zeros_bf16(const Shape& shape) {
    static_assert(std::is_same_v<T, float>, "Tensor::zeros_bf16: bf16 storage is for float tensors");
    Tensor t;
    t.impl_ = std::make_shared<detail::TensorImpl<T>>();
    t.impl_->shape = shape;
    t.impl_->bf16 = std::make_shared<detail::Bf16Buffer>(shape.numel());
    std::fill_n(t.impl_->bf16->data(), shape.numel(), std::uint16_t(0));
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

  T* data() { return values().data(); }
  const T* data() const { return values().data(); }
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
    if (on && held_in_bf16())
      throw Error(ErrorKind::autograd, "requires_grad_: the tensor " + shape().str() +
                                           " is held in bf16, which is for frozen weights (hold_in_f32() first)");
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
  Tensor detach() const { return view_as(shape()); }
  /// A deep copy of the values, outside the graph (held in bf16 if this one is).
  Tensor clone() const {
    if (held_in_bf16()) {
      Tensor t = view_as(shape());
      t.impl_->bf16 = std::make_shared<detail::Bf16Buffer>(numel());
      std::copy_n(bf16_data(), numel(), t.impl_->bf16->data());
      return t;
    }
    Tensor t = empty(shape());
    t.vec() = vec();
    return t;
  }

  // ---- bf16 storage (a frozen float base) -----------------------------------------------------
  /// True when the values are held as bfloat16 (hold_in_bf16): data(), vec() and the element
  /// accessors then throw, and products read the values through bf16_data().
  bool held_in_bf16() const { return impl()->bf16 != nullptr; }
  /// The bfloat16 values of a tensor held in bf16; Error(value) otherwise.
  const std::uint16_t* bf16_data() const {
    if (!held_in_bf16()) throw Error(ErrorKind::value, "Tensor::bf16_data: the tensor " + shape().str() + " is held in f32");
    return impl()->bf16->data();
  }
  std::uint16_t* bf16_data() { return const_cast<std::uint16_t*>(std::as_const(*this).bf16_data()); }
  /// Rounds the values to bfloat16 (nearest-even) and keeps only those, in place for every handle
  /// of this tensor: half the memory. For frozen float weights: the tensor must be a leaf that
  /// does not require grad. Views made before keep the float values they share.
  Tensor& hold_in_bf16() {
    if constexpr (!std::is_same_v<T, float>) {
      throw Error(ErrorKind::config, "Tensor::hold_in_bf16: bf16 storage is for float tensors, not double");
    } else {
      if (held_in_bf16()) return *this;
      if (requires_grad() || !is_leaf())
        throw Error(ErrorKind::autograd, "Tensor::hold_in_bf16: the tensor " + shape().str() +
                                             " must be a frozen leaf (requires_grad off), as a base weight is");
      auto packed = std::make_shared<detail::Bf16Buffer>(numel());
      detail::encode_bf16(data(), numel(), packed->data());
      impl()->bf16 = std::move(packed);
      impl()->data.reset();
    }
    return *this;
  }
  /// Back to float storage (exact: every bfloat16 is a float), in place for every handle.
  Tensor& hold_in_f32() {
    if (!held_in_bf16()) return *this;
    auto values = std::make_shared<detail::Buffer<T>>(numel());
    if constexpr (std::is_same_v<T, float>) detail::decode_bf16(bf16_data(), numel(), values->data());
    impl()->data = std::move(values);
    impl()->bf16.reset();
    return *this;
  }
  /// The values as float storage: this tensor itself, or a decoded copy when held in bf16.
  Tensor as_f32() const { return held_in_bf16() ? clone().hold_in_f32() : *this; }

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
    t.impl_->bf16 = impl()->bf16;
    return t;
  }

 private:
  /// The float storage; Error(value) naming the shape when the tensor is held in bf16.
  detail::Buffer<T>& values() const {
    detail::TensorImpl<T>* i = impl();
    if (!i->data)
      throw Error(ErrorKind::value, "Tensor " + i->shape.str() +
                                        " is held in bf16 (a frozen base weight): its float values are not stored; "
                                        "read them with as_f32(), or hold_in_f32() first");
    return *i->data;
  }

  std::shared_ptr<detail::TensorImpl<T>> impl_;
};

/// Prints the shape and up to the first 8 values: "Tensor[2, 3](0.1, 0.2, …)".
template <class T>
std::ostream& operator<<(std::ostream& os, const Tensor<T>& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor" << t.shape().str() << "(";
  const Index shown = std::min<Index>(t.numel(), 8);
  for (Index i = 0; i < shown; ++i)
    os << (i ? ", " : "") << (t.held_in_bf16() ? detail::bfloat16_to_float(t.bf16_data()[i]) : t[i]);
  if (t.numel() > shown) os << ", ...";
  return os << (t.held_in_bf16() ? ") bf16" : ")");
}

}  // namespace everlora

#include "everlora/core/autograd.hpp"

#endif  // EVERLORA_CORE_TENSOR_HPP
