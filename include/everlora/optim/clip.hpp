// everlora — gradient clipping by global L2 norm (PyTorch's torch.nn.utils.clip_grad_norm_):
//   double norm = clip_grad_norm(model.trainable_parameters(), 1.0);   // before optimizer.step()
// @sa docs/concepts/optim.md
#ifndef EVERLORA_OPTIM_CLIP_HPP
#define EVERLORA_OPTIM_CLIP_HPP

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "everlora/core/error.hpp"
#include "everlora/core/tensor.hpp"
#include "everlora/optim/optimizer.hpp"

namespace everlora {

namespace detail {

/// The shared body of the clip_grad_norm overloads; tensors without a gradient are skipped.
template <class T>
double clip_grad_norm_impl(const std::vector<const Tensor<T>*>& params, double max_norm) {
  check_hyperparameter(std::isfinite(max_norm) && max_norm > 0.0, "clip_grad_norm", "max_norm",
                       max_norm, "must be finite and > 0");
  // ‖g‖ = sqrt(Σ_k ‖g_k‖²), each ‖g_k‖ summed in double, tensors in the order given.
  double sum_sq = 0.0;
  for (const Tensor<T>* p : params) {
    if (!p->defined() || !p->has_grad()) continue;
    const auto* impl = p->impl();
    const auto g = Eigen::Map<const typename Tensor<T>::Vector>(impl->grad->data(), impl->shape.numel());
    const double norm = std::sqrt(g.template cast<double>().squaredNorm());
    sum_sq += norm * norm;
  }
  const double total = std::sqrt(sum_sq);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0) {  // false for a NaN norm: the gradients are then left as they are
    const T scale = static_cast<T>(coef);
    for (const Tensor<T>* p : params) {
      if (!p->defined() || !p->has_grad()) continue;
      auto* impl = p->impl();
      Eigen::Map<typename Tensor<T>::Vector>(impl->grad->data(), impl->shape.numel()) *= scale;
    }
  }
  return total;
}

}  // namespace detail

/// Scales every gradient in place by max_norm / (‖g‖ + 1e-6) when that is below 1, ‖g‖ being the
/// L2 norm of all the gradients together; returns ‖g‖ before clipping (0 when no tensor has a
/// gradient; NaN or inf, with the gradients untouched, when one is not finite — check it before
/// stepping). Tensors without a gradient are skipped. Throws Error(config) unless max_norm is
/// finite and > 0.
template <class T>
double clip_grad_norm(const std::vector<Tensor<T>>& params, double max_norm) {
  std::vector<const Tensor<T>*> ptrs;
  ptrs.reserve(params.size());
  for (const auto& p : params) ptrs.push_back(&p);
  return detail::clip_grad_norm_impl(ptrs, max_norm);
}

/// The same over named parameters (e.g. model.named_parameters()).
template <class T>
double clip_grad_norm(const std::vector<std::pair<std::string, Tensor<T>>>& params,
                      double max_norm) {
  std::vector<const Tensor<T>*> ptrs;
  ptrs.reserve(params.size());
  for (const auto& kv : params) ptrs.push_back(&kv.second);
  return detail::clip_grad_norm_impl(ptrs, max_norm);
}

/// The same over the parameters an optimizer updates.
template <class T>
double clip_grad_norm(const Optimizer<T>& optimizer, double max_norm) {
  return clip_grad_norm(optimizer.parameters(), max_norm);
}

}  // namespace everlora

#endif  // EVERLORA_OPTIM_CLIP_HPP
