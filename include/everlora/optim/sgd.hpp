// everlora — SGD: stochastic gradient descent with momentum, dampening, Nesterov momentum and
// (L2, coupled) weight decay; the update rule of PyTorch's torch.optim.SGD, step for step.
//   SGDOptions opt;
//   opt.lr = 0.1;
//   opt.momentum = 0.9;
//   SGD<float> sgd(model.named_parameters(), opt);
//   loss.backward(); sgd.step(); sgd.zero_grad();
// @sa docs/concepts/optim.md
#ifndef EVERLORA_OPTIM_SGD_HPP
#define EVERLORA_OPTIM_SGD_HPP

#include <cmath>
#include <utility>

#include "everlora/optim/optimizer.hpp"

namespace everlora {

/// Hyperparameters of SGD (PyTorch's names and meaning; lr has a default here, 0.01).
struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;      // μ in [0, 1]; 0: no momentum buffer
  double dampening = 0.0;     // τ in [0, 1]
  double weight_decay = 0.0;  // λ ≥ 0, added to the gradient (g + λ·p)
  bool nesterov = false;      // needs momentum > 0 and dampening = 0

  /// Throws Error(config) naming the first bad field.
  void validate() const {
    const char* api = "SGD";
    detail::check_lr(lr, api);
    detail::check_hyperparameter(momentum >= 0.0 && momentum <= 1.0, api, "momentum", momentum,
                                 "must be in [0, 1]");
    detail::check_hyperparameter(dampening >= 0.0 && dampening <= 1.0, api, "dampening", dampening,
                                 "must be in [0, 1]");
    detail::check_hyperparameter(std::isfinite(weight_decay) && weight_decay >= 0.0, api,
                                 "weight_decay", weight_decay, "must be finite and >= 0");
    if (nesterov && (momentum <= 0.0 || dampening != 0.0))
      throw Error(ErrorKind::config, "SGD: nesterov = true needs momentum > 0 and dampening = 0 "
                                     "(got momentum = " + detail::format_number(momentum) +
                                     ", dampening = " + detail::format_number(dampening) + ")");
  }
};

/// SGD, per parameter p with gradient g, at its n-th update (λ weight decay, μ momentum,
/// τ dampening, b the momentum buffer):
///   d = g + λ·p
///   b = d                      (n = 1)
///   b = μ·b + (1 − τ)·d        (n > 1)
///   d = d + μ·b  (Nesterov)   or   d = b  (momentum > 0)
///   p = p − lr·d
/// State: "momentum_buffer.<name>" when momentum > 0.
template <class T>
class SGD : public Optimizer<T> {
 public:
  using typename Optimizer<T>::NamedParameters;

  /// Over the parameters with requires_grad set (e.g. model.named_parameters()).
  explicit SGD(NamedParameters params, const SGDOptions& options = {})
      : Optimizer<T>("SGD", std::move(params), validated(options).lr), options_(options) {
    init();
  }
  /// Over plain tensors, named "0", "1", … by position.
  explicit SGD(const std::vector<Tensor<T>>& params, const SGDOptions& options = {})
      : Optimizer<T>("SGD", params, validated(options).lr), options_(options) {
    init();
  }

  /// The options given at construction (options().lr is the initial lr; see lr()).
  const SGDOptions& options() const { return options_; }

  void step() override {
    const T lr = static_cast<T>(this->lr());
    const T wd = static_cast<T>(options_.weight_decay);
    const T mu = static_cast<T>(options_.momentum);
    const T keep = static_cast<T>(1.0 - options_.dampening);
    const bool decay = options_.weight_decay != 0.0;
    this->for_each_update([&](std::size_t i, long n) {
      auto p = this->value(i).array();
      const auto g = this->grad(i).array();
      // d = g + λ·p is recomputed where needed rather than stored: p changes only at the end.
      auto update = [&](const auto& d) {
        if (!has_momentum_) {
          p = p + (-lr) * d;
          return;
        }
        auto b = this->state(0)[i].vec().array();
        if (n == 1)
          b = d;
        else
          b = b * mu + keep * d;
        if (options_.nesterov)
          p = p + (-lr) * (d + mu * b);
        else
          p = p + (-lr) * b;
      };
      if (decay)
        update(g + wd * p);
      else
        update(g);
    });
  }

 private:
  static const SGDOptions& validated(const SGDOptions& options) {
    options.validate();
    return options;
  }
  void init() {
    has_momentum_ = options_.momentum != 0.0;
    if (has_momentum_) this->add_state("momentum_buffer");
  }

  SGDOptions options_;
  bool has_momentum_ = false;
};

}  // namespace everlora

#endif  // EVERLORA_OPTIM_SGD_HPP
