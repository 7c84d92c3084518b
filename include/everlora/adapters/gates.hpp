// everlora — the Gate seam: what happens inside one expert. A gate maps expert e's dense update
// ΔW_e = B_e·A_e to the update the layer applies. Identity is plain LoRA, and keeps the low-rank
// fast path (ΔW is never formed). JumpReLU (JumpLoRA, METHODS.md) keeps the entries of ΔW_e whose
// magnitude exceeds the expert's own learnable threshold:
//   J_θ(ΔW) = ΔW ⊙ 1[|ΔW| > θ],  θ = exp(ℓ_e),  applied as  a·J_θ(ΔW) + (1 − a)·ΔW
// with a ∈ [0, 1] the expert's dense → sparse schedule (JumpLora sets it; 1 once a task is done).
// Each expert has its own ℓ and a, so a finished expert's mask stays fixed while later experts
// train: the gate holds one JumpThreshold child per expert, at <layer>.gate.<expert>.log_threshold.
#ifndef EVERLORA_ADAPTERS_GATES_HPP
#define EVERLORA_ADAPTERS_GATES_HPP

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "everlora/core/ops/elementwise.hpp"
#include "everlora/core/ops/jump_gate.hpp"
#include "everlora/nn/module.hpp"

namespace everlora {

template <class T>
class Gate : public Module<T> {
 public:
  /// True when the gate leaves ΔW unchanged, so the layer may use the low-rank path.
  virtual bool is_identity() const = 0;
  /// The gated update of expert `expert` for its dense ΔW [out, in] (differentiable).
  virtual Tensor<T> apply(const Tensor<T>& delta_w, const std::string& expert) = 0;
};

template <class T>
class Identity : public Gate<T> {
 public:
  const char* type_name() const override { return "Identity"; }
  bool is_identity() const override { return true; }
  Tensor<T> apply(const Tensor<T>& delta_w, const std::string&) override { return delta_w; }
};

struct JumpReluConfig {
  double init_log_threshold = -4.7;  ///< ℓ at creation (θ ≈ 0.009)
  double bandwidth = 1e-3;           ///< ε of the rectangle kernel
};

/// One expert's threshold ℓ (learnable) and schedule weight a (set by the strategy).
template <class T>
class JumpThreshold : public Module<T> {
 public:
  explicit JumpThreshold(T init) { this->register_parameter("log_threshold", log_threshold_, Tensor<T>::full({1}, init)); }
  const char* type_name() const override { return "JumpThreshold"; }
  Tensor<T>& log_threshold() { return log_threshold_; }
  T threshold() const { return std::exp(log_threshold_[0]); }
  /// Sets θ (ℓ = log θ); θ must be positive.
  void set_threshold(T theta) {
    if (!(theta > T(0))) throw Error(ErrorKind::value, "JumpThreshold: θ must be positive, got " + std::to_string(static_cast<double>(theta)));
    log_threshold_[0] = std::log(theta);
  }
  T mix = T(1);  ///< a of the schedule: 0 dense, 1 fully gated

 private:
  Tensor<T> log_threshold_;
};

template <class T>
class JumpReLU : public Gate<T> {
 public:
  explicit JumpReLU(JumpReluConfig config = {}) : config_(config) {
    if (!(config.bandwidth > 0))
      throw Error(ErrorKind::config, "JumpReLU: bandwidth must be positive, got " + std::to_string(config.bandwidth));
  }
  const char* type_name() const override { return "JumpReLU"; }
  bool is_identity() const override { return false; }
  const JumpReluConfig& config() const { return config_; }

  /// Gives expert `expert` its threshold (ℓ = config.init_log_threshold, a = 1).
  JumpThreshold<T>& add_expert(const std::string& expert) {
    if (has(expert)) throw Error(ErrorKind::config, "JumpReLU: expert '" + expert + "' already has a threshold");
    thresholds_.push_back(std::make_shared<JumpThreshold<T>>(static_cast<T>(config_.init_log_threshold)));
    names_.push_back(expert);
    this->register_child(expert, thresholds_.back(), [](const std::shared_ptr<Module<T>>&) {
      throw Error(ErrorKind::config, "JumpReLU: thresholds are added, not replaced");
    });
    return *thresholds_.back();
  }
  bool has(const std::string& expert) const { return std::find(names_.begin(), names_.end(), expert) != names_.end(); }
  JumpThreshold<T>& threshold(const std::string& expert) {
    const auto it = std::find(names_.begin(), names_.end(), expert);
    if (it == names_.end()) throw Error(ErrorKind::config, "JumpReLU: expert '" + expert + "' has no threshold (add_expert first)");
    return *thresholds_[static_cast<std::size_t>(it - names_.begin())];
  }

  Tensor<T> apply(const Tensor<T>& delta_w, const std::string& expert) override {
    JumpThreshold<T>& th = threshold(expert);
    const Tensor<T> gated = jump_gate(delta_w, th.log_threshold(), static_cast<T>(config_.bandwidth));
    if (th.mix >= T(1)) return gated;
    if (th.mix <= T(0)) return delta_w;
    return gated * th.mix + delta_w * (T(1) - th.mix);
  }

 private:
  JumpReluConfig config_;
  std::vector<std::shared_ptr<JumpThreshold<T>>> thresholds_;
  std::vector<std::string> names_;
};

/// θ that leaves exactly `keep` entries of `delta_w` with |entry| > θ: the midpoint between the
/// keep-th and (keep+1)-th largest magnitudes (JumpLoRA's budget-matched reset). When keep ≥ the
/// entry count, θ is below every non-zero magnitude. Ties at the cut keep fewer entries.
template <class T>
T budget_threshold(const Tensor<T>& delta_w, Index keep) {
  std::vector<T> mags(static_cast<std::size_t>(delta_w.numel()));
  for (Index i = 0; i < delta_w.numel(); ++i) mags[static_cast<std::size_t>(i)] = std::abs(delta_w[i]);
  T smallest_positive = T(1);
  for (T m : mags)
    if (m > T(0)) smallest_positive = std::min(smallest_positive, m);
  if (keep <= 0) return *std::max_element(mags.begin(), mags.end()) + T(1);
  if (keep >= delta_w.numel()) return smallest_positive / T(2);
  const auto k = static_cast<std::ptrdiff_t>(keep);
  std::nth_element(mags.begin(), mags.begin() + k, mags.end(), std::greater<T>());
  const T below = mags[static_cast<std::size_t>(k)];                      // (keep+1)-th largest
  const T above = *std::min_element(mags.begin(), mags.begin() + k);      // keep-th largest
  const T theta = (above + below) / T(2);
  return theta > T(0) ? theta : smallest_positive / T(2);
}

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_GATES_HPP
