// everlora — reverse-mode autograd: the grad mode and NoGrad guard, how ops record themselves,
// and backward().
//
// Each op that has an input requiring grad records a Node on its output: the inputs and a closure
// that adds the output's gradient into theirs. backward() orders the reachable nodes (the tape,
// a depth-first post-order) and replays them from the output back. Intermediate gradients and,
// unless retain_graph, the nodes themselves are released as soon as they have been used.
#ifndef EVERLORA_CORE_AUTOGRAD_HPP
#define EVERLORA_CORE_AUTOGRAD_HPP

#include <unordered_set>
#include <utility>
#include <vector>

#include "everlora/core/tensor.hpp"

namespace everlora {

namespace detail {
inline bool& grad_mode() {
  thread_local bool enabled = true;
  return enabled;
}
}  // namespace detail

/// Whether ops on this thread record the graph.
inline bool grad_enabled() { return detail::grad_mode(); }

/// RAII guard: no graph is recorded on this thread while it lives (inference, optimizer updates).
class NoGrad {
 public:
  NoGrad() : previous_(detail::grad_mode()) { detail::grad_mode() = false; }
  ~NoGrad() { detail::grad_mode() = previous_; }
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

namespace detail {

/// True when an op on these inputs must be recorded.
template <class T, class... Rest>
bool needs_grad(const Tensor<T>& first, const Rest&... rest) {
  if (!grad_enabled()) return false;
  return first.requires_grad() || (... || rest.requires_grad());
}
template <class T>
bool needs_grad(const std::vector<Tensor<T>>& inputs) {
  if (!grad_enabled()) return false;
  for (const auto& t : inputs)
    if (t.requires_grad()) return true;
  return false;
}

/// Attaches a node to `out`; call only when needs_grad(inputs...) is true.
/// `backward(const T* grad_out)` must add into the inputs' gradients through grad_ptr().
template <class T, class Backward>
void record(Tensor<T>& out, const char* op, const std::vector<Tensor<T>>& inputs,
            Backward&& backward) {
  auto node = std::make_shared<Node<T>>();
  node->op = op;
  node->inputs.reserve(inputs.size());
  for (const auto& t : inputs)
    if (t.requires_grad()) node->inputs.push_back(t.impl_ptr());
  node->backward = std::forward<Backward>(backward);
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
}

/// The gradient buffer of `t` (zero-filled on first use), or nullptr if t does not require grad.
template <class T>
T* grad_ptr(const Tensor<T>& t) {
  TensorImpl<T>* impl = t.impl();
  if (!impl->requires_grad) return nullptr;
  if (!impl->grad) impl->grad = std::make_shared<Buffer<T>>(Buffer<T>::zeros(impl->shape.numel()));
  return impl->grad->data();
}

[[noreturn]] inline void throw_released() {
  throw Error(ErrorKind::autograd,
              "backward: the graph was already freed by an earlier backward(); pass "
              "retain_graph = true to the first call to go through it twice");
}

/// The nodes reachable from `root`, inputs before outputs (iterative: deep graphs are fine).
template <class T>
std::vector<std::shared_ptr<TensorImpl<T>>> topological_order(
    const std::shared_ptr<TensorImpl<T>>& root) {
  std::vector<std::shared_ptr<TensorImpl<T>>> order;
  if (!root->grad_fn) return order;
  std::unordered_set<const TensorImpl<T>*> visited{root.get()};
  std::vector<std::pair<std::shared_ptr<TensorImpl<T>>, std::size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [impl, next] = stack.back();
    const auto& inputs = impl->grad_fn->inputs;
    if (next < inputs.size()) {
      const auto& child = inputs[next++];
      if (child->graph_released) throw_released();
      if (child->grad_fn && visited.insert(child.get()).second) stack.emplace_back(child, 0);
    } else {
      order.push_back(std::move(impl));
      stack.pop_back();
    }
  }
  return order;
}

template <class T>
void run_backward(const Tensor<T>& root, const T* seed, bool retain_graph) {
  if (!root.requires_grad())
    throw Error(ErrorKind::autograd,
                "backward: the tensor of shape " + root.shape().str() +
                    " does not require grad (no input needs a gradient, or it was computed "
                    "under NoGrad)");
  if (root.impl()->graph_released) throw_released();
  {  // seed the output's gradient
    T* g = grad_ptr(root);
    for (Index i = 0; i < root.numel(); ++i) g[i] += seed ? seed[i] : T(1);
  }
  auto order = topological_order(root.impl_ptr());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl<T>& t = **it;
    if (t.grad) t.grad_fn->backward(t.grad->data());
    if (!t.retain_grad) t.grad.reset();
    if (!retain_graph) {
      t.grad_fn.reset();
      t.graph_released = true;
    }
    it->reset();  // its inputs stay alive through the nodes not yet replayed
  }
}

}  // namespace detail

template <class T>
void Tensor<T>::backward(bool retain_graph) const {
  if (numel() != 1)
    throw Error(ErrorKind::autograd, "backward: the output has shape " + shape().str() +
                                         "; a non-scalar output needs a seed gradient");
  detail::run_backward(*this, static_cast<const T*>(nullptr), retain_graph);
}

template <class T>
void Tensor<T>::backward(const Tensor<T>& seed, bool retain_graph) const {
  if (seed.shape() != shape())
    throw Error(ErrorKind::shape, "backward: seed gradient has shape " + seed.shape().str() +
                                      " but the output has shape " + shape().str());
  detail::run_backward(*this, seed.data(), retain_graph);
}

}  // namespace everlora

#endif  // EVERLORA_CORE_AUTOGRAD_HPP
