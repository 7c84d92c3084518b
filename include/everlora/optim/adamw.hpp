// everlora — AdamW: Adam with decoupled weight decay and bias correction; the update rule of
// PyTorch's torch.optim.AdamW (amsgrad = false), step for step.
//   AdamWOptions opt;
//   opt.lr = 3e-4;
//   AdamW<float> adamw(model.named_parameters(), opt);
//   loss.backward(); adamw.step(); adamw.zero_grad();
// @sa docs/concepts/optim.md
#ifndef EVERLORA_OPTIM_ADAMW_HPP
#define EVERLORA_OPTIM_ADAMW_HPP

#include <cmath>
#include <utility>

#include "everlora/optim/optimizer.hpp"

namespace everlora {

/// Hyperparameters of AdamW (PyTorch's defaults).
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;           // β1 in [0, 1)
  double beta2 = 0.999;         // β2 in [0, 1)
  double eps = 1e-8;            // ε > 0
  double weight_decay = 1e-2;   // λ ≥ 0, decoupled: p ← p·(1 − lr·λ)

  /// Throws Error(config) naming the first bad field.
  void validate() const {
    const char* api = "AdamW";
    detail::check_lr(lr, api);
    detail::check_hyperparameter(beta1 >= 0.0 && beta1 < 1.0, api, "beta1", beta1,
                                 "must be in [0, 1)");
    detail::check_hyperparameter(beta2 >= 0.0 && beta2 < 1.0, api, "beta2", beta2,
                                 "must be in [0, 1)");
    detail::check_hyperparameter(std::isfinite(eps) && eps > 0.0, api, "eps", eps,
                                 "must be finite and > 0");
    detail::check_hyperparameter(std::isfinite(weight_decay) && weight_decay >= 0.0, api,
                                 "weight_decay", weight_decay, "must be finite and >= 0");
  }
};

/// AdamW, per parameter p with gradient g, at its n-th update:
///   p = p·(1 − lr·λ)
///   m = β1·m + (1 − β1)·g
///   v = β2·v + (1 − β2)·g²
///   p = p − (lr / (1 − β1ⁿ)) · m / (√v / √(1 − β2ⁿ) + ε)
/// State: "exp_avg.<name>" (m) and "exp_avg_sq.<name>" (v).
template <class T>
class AdamW : public Optimizer<T> {
 public:
  using typename Optimizer<T>::NamedParameters;

  /// Over the parameters with requires_grad set (e.g. model.named_parameters()).
  explicit AdamW(NamedParameters params, const AdamWOptions& options = {})
      : Optimizer<T>("AdamW", std::move(params), validated(options).lr), options_(options) {
    init();
  }
  /// Over plain tensors, named "0", "1", … by position.
  explicit AdamW(const std::vector<Tensor<T>>& params, const AdamWOptions& options = {})
      : Optimizer<T>("AdamW", params, validated(options).lr), options_(options) {
    init();
  }

  /// The options given at construction (options().lr is the initial lr; see lr()).
  const AdamWOptions& options() const { return options_; }

  void step() override {
    const double lr = this->lr();
    const double beta1 = options_.beta1, beta2 = options_.beta2;
    const T shrink = static_cast<T>(1.0 - lr * options_.weight_decay);
    const bool decay = options_.weight_decay != 0.0;
    const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
    const T one_minus_b1 = static_cast<T>(1.0 - beta1), one_minus_b2 = static_cast<T>(1.0 - beta2);
    const T eps = static_cast<T>(options_.eps);
    this->for_each_update([&](std::size_t i, long n) {
      auto p = this->value(i).array();
      const auto g = this->grad(i).array();
      auto m = this->state(0)[i].vec().array();
      auto v = this->state(1)[i].vec().array();
      const double bias1 = 1.0 - std::pow(beta1, static_cast<double>(n));
      const double bias2_sqrt = std::sqrt(1.0 - std::pow(beta2, static_cast<double>(n)));
      const T neg_step = static_cast<T>(-(lr / bias1));
      const T b2s = static_cast<T>(bias2_sqrt);
      if (decay) p = p * shrink;
      m = m * b1 + one_minus_b1 * g;
      v = v * b2 + one_minus_b2 * g * g;
      p = p + neg_step * m / (v.sqrt() / b2s + eps);
    });
  }

 private:
  static const AdamWOptions& validated(const AdamWOptions& options) {
    options.validate();
    return options;
  }
  void init() {
    this->add_state("exp_avg");
    this->add_state("exp_avg_sq");
  }

  AdamWOptions options_;
};

}  // namespace everlora

#endif  // EVERLORA_OPTIM_ADAMW_HPP
