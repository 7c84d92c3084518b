// everlora — Optimizer<T>: the base of SGD and AdamW. It holds the trainable parameters by name,
// their per-parameter state buffers (allocated once, at construction, so step() never allocates),
// the learning rate and the step counts, and saves and restores all of the state through a
// StateDict so that an interrupted run resumes bit-identically.
// @sa docs/concepts/optim.md
#ifndef EVERLORA_OPTIM_OPTIMIZER_HPP
#define EVERLORA_OPTIM_OPTIMIZER_HPP

#include <cmath>
#include <cstddef>
#include <sstream>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "everlora/core/autograd.hpp"
#include "everlora/core/error.hpp"
#include "everlora/core/parallel.hpp"
#include "everlora/core/state_dict.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

namespace detail {

/// "0.1", "1e-08", "-3": a hyperparameter as it reads best in a message.
inline std::string format_number(double v) {
  std::ostringstream ss;
  ss.precision(10);
  ss << v;
  return ss.str();
}

/// Throws Error(config) "<api>: <field> = <value> is invalid (<rule>)" unless `ok`.
inline void check_hyperparameter(bool ok, const char* api, const char* field, double value,
                                 const char* rule) {
  if (!ok)
    throw Error(ErrorKind::config, std::string(api) + ": " + field + " = " + format_number(value) +
                                       " is invalid (" + rule + ")");
}

/// lr must be finite and ≥ 0.
inline void check_lr(double lr, const char* api) {
  check_hyperparameter(std::isfinite(lr) && lr >= 0.0, api, "lr", lr, "must be finite and >= 0");
}

/// Below this many elements updated in one step, the parameters are updated on one thread.
constexpr Index kOptimParallelMinElements = Index{1} << 16;

}  // namespace detail

/// Base of the optimizers: named trainable parameters, per-parameter state, lr and step counts.
///
/// State dict layout (every value a tensor, so it travels with model weights in one file):
///   "step"          [1]  steps taken (calls to step())
///   `"step.<name>"`   [1]  updates applied to parameter `<name>` (it is skipped when it has no grad)
///   `"<slot>.<name>"`      a state buffer of `<name>`, same shape (e.g. "exp_avg.blocks.0.attn.q.weight")
/// Counts are stored as T: exact up to 2^24 steps in float, 2^53 in double.
template <class T>
class Optimizer {
 public:
  using NamedParameters = std::vector<std::pair<std::string, Tensor<T>>>;

  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// The class name, for messages ("SGD", "AdamW").
  const char* type_name() const { return type_name_; }

  /// Updates every parameter that has a gradient, under NoGrad; skips the others (their state
  /// and per-parameter step count stay as they are). Allocates nothing.
  virtual void step() = 0;

  /// Zeroes every parameter's gradient, keeping the buffers for the next backward().
  void zero_grad() {
    for (auto& p : params_) p.zero_grad();
  }

  /// The learning rate the next step() uses.
  double lr() const { return lr_; }
  /// Sets the learning rate (e.g. from a schedule before each step). Throws Error(config) unless
  /// lr is finite and ≥ 0.
  void set_lr(double lr) {
    detail::check_lr(lr, type_name_);
    lr_ = lr;
  }
  /// Calls to step() so far (restored by load_state_dict); the index of the next step.
  long step_count() const { return step_count_; }

  /// Number of parameters the optimizer updates.
  std::size_t size() const { return params_.size(); }
  /// Their names, in the order given (plain tensors are named "0", "1", … by position).
  const std::vector<std::string>& names() const { return names_; }
  /// The parameters themselves (handles sharing storage with the model's).
  const std::vector<Tensor<T>>& parameters() const { return params_; }

  /// A deep copy of the optimizer's state (see the class comment for the keys).
  StateDict<T> state_dict() const {
    StateDict<T> out;
    out.emplace("step", count_tensor(step_count_));
    for (std::size_t i = 0; i < params_.size(); ++i)
      out.emplace("step." + names_[i], count_tensor(param_steps_[i]));
    for (const auto& slot : slots_)
      for (std::size_t i = 0; i < params_.size(); ++i)
        out.emplace(slot.name + "." + names_[i], slot.buffers[i].clone());
    return out;
  }

  /// Restores the state saved by state_dict() of an optimizer of the same type over parameters
  /// with the same names and shapes. Every key is checked before anything changes: a missing or
  /// unexpected key throws Error(format), a shape mismatch Error(shape), a bad count
  /// Error(value), each naming the key. Values are copied (the dict is not aliased).
  void load_state_dict(const StateDict<T>& state) {
    const std::string api = std::string(type_name_) + "::load_state_dict";
    auto find = [&](const std::string& key, const Shape& shape) -> const Tensor<T>& {
      const auto it = state.find(key);
      if (it == state.end())
        throw Error(ErrorKind::format, api + ": missing key '" + key + "'");
      if (!it->second.defined())
        throw Error(ErrorKind::value, api + ": key '" + key + "' holds an undefined tensor");
      if (it->second.shape() != shape)
        throw Error(ErrorKind::shape, api + ": '" + key + "' has shape " + it->second.shape().str() +
                                          " but " + type_name_ + " expects " + shape.str());
      return it->second;
    };
    auto count = [&](const std::string& key) {
      const Tensor<T>& t = find(key, Shape{1});
      const double v = static_cast<double>(t[0]);
      if (!(v >= 0.0) || v != std::floor(v) || v > 9.0e15)
        throw Error(ErrorKind::value, api + ": '" + key + "' = " + detail::format_number(v) +
                                          " is not a step count (a non-negative integer)");
      return static_cast<long>(v);
    };

    // Check everything first, then assign: a failed load leaves the optimizer untouched.
    const long steps = count("step");
    std::vector<long> param_steps(params_.size());
    for (std::size_t i = 0; i < params_.size(); ++i) param_steps[i] = count("step." + names_[i]);
    std::vector<std::vector<const Tensor<T>*>> sources(slots_.size());
    for (std::size_t s = 0; s < slots_.size(); ++s)
      for (std::size_t i = 0; i < params_.size(); ++i)
        sources[s].push_back(&find(slots_[s].name + "." + names_[i], params_[i].shape()));
    const std::size_t expected = 1 + params_.size() * (1 + slots_.size());
    if (state.size() != expected) {
      std::unordered_set<std::string> known{"step"};
      for (std::size_t i = 0; i < params_.size(); ++i) {
        known.insert("step." + names_[i]);
        for (const auto& slot : slots_) known.insert(slot.name + "." + names_[i]);
      }
      for (const auto& kv : state)
        if (!known.count(kv.first))
          throw Error(ErrorKind::format, api + ": unexpected key '" + kv.first + "'");
    }

    step_count_ = steps;
    param_steps_ = std::move(param_steps);
    for (std::size_t s = 0; s < slots_.size(); ++s)
      for (std::size_t i = 0; i < params_.size(); ++i)
        slots_[s].buffers[i].vec() = sources[s][i]->vec();
  }

 protected:
  /// Keeps the parameters with requires_grad set, in order. Throws Error(config) if none is left,
  /// if a name repeats, or if one tensor appears twice (it would be updated twice).
  Optimizer(const char* type_name, NamedParameters params, double lr) : type_name_(type_name) {
    detail::check_lr(lr, type_name_);
    lr_ = lr;
    std::unordered_set<std::string> seen_names;
    std::unordered_set<const void*> seen_tensors;
    for (auto& [name, p] : params) {
      if (!p.defined())
        throw Error(ErrorKind::config, std::string(type_name_) + ": parameter '" + name +
                                           "' is an undefined tensor");
      if (!p.requires_grad()) continue;
      if (!seen_names.insert(name).second)
        throw Error(ErrorKind::config,
                    std::string(type_name_) + ": parameter name '" + name + "' appears twice");
      if (!seen_tensors.insert(p.impl()).second || !seen_tensors.insert(p.impl()->data.get()).second)
        throw Error(ErrorKind::config, std::string(type_name_) + ": parameter '" + name +
                                           "' shares its storage with an earlier parameter");
      names_.push_back(name);
      params_.push_back(p);
    }
    if (params_.empty())
      throw Error(ErrorKind::config,
                  std::string(type_name_) + ": no trainable parameters (none of the " +
                      std::to_string(params.size()) + " given has requires_grad set)");
    param_steps_.assign(params_.size(), 0);
    active_.reserve(params_.size());
  }
  /// The same, naming the tensors "0", "1", … by their position in `params`.
  Optimizer(const char* type_name, const std::vector<Tensor<T>>& params, double lr)
      : Optimizer(type_name, number(params), lr) {}

  /// Registers a state buffer per parameter, zero-filled, saved as "<name>.<param name>".
  /// Call from the derived constructor only (the buffers are never reallocated).
  void add_state(const std::string& name) {
    Slot slot{name, {}};
    slot.buffers.reserve(params_.size());
    for (const auto& p : params_) slot.buffers.push_back(Tensor<T>::zeros(p.shape()));
    slots_.push_back(std::move(slot));
  }
  /// The buffers of state slot `s` (in add_state order), one per parameter.
  std::vector<Tensor<T>>& state(std::size_t s) { return slots_[s].buffers; }

  /// Parameter i's values and gradient as flat Eigen vectors (no allocation).
  Eigen::Map<typename Tensor<T>::Vector> value(std::size_t i) { return params_[i].vec(); }
  Eigen::Map<const typename Tensor<T>::Vector> grad(std::size_t i) const {
    const auto* impl = params_[i].impl();
    return Eigen::Map<const typename Tensor<T>::Vector>(impl->grad->data(), impl->shape.numel());
  }

  /// The body of step(): under NoGrad, counts the step, then calls update(i, n) for every parameter
  /// i that has a gradient, n being that parameter's update count including this one. Parameters
  /// are independent, so they are spread over threads when there is enough work; the result is
  /// the same on any thread count.
  template <class Update>
  void for_each_update(Update&& update) {
    NoGrad no_grad;
    active_.clear();  // capacity reserved at construction: no allocation
    Index work = 0;
    for (std::size_t i = 0; i < params_.size(); ++i)
      if (params_[i].has_grad()) {
        active_.push_back(i);
        work += params_[i].numel();
      }
    ++step_count_;
    const long n = static_cast<long>(active_.size());
    for (long k = 0; k < n; ++k) ++param_steps_[active_[static_cast<std::size_t>(k)]];
    const bool spread = n > 1 && work >= detail::kOptimParallelMinElements &&
                          num_threads() > 1 && !detail::in_parallel_region();
    (void)spread;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) if (spread)
#endif
    for (long k = 0; k < n; ++k) {
      const std::size_t i = active_[static_cast<std::size_t>(k)];
      update(i, param_steps_[i]);
    }
  }

 private:
  struct Slot {
    std::string name;
    std::vector<Tensor<T>> buffers;
  };

  static NamedParameters number(const std::vector<Tensor<T>>& params) {
    NamedParameters named;
    named.reserve(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) named.emplace_back(std::to_string(i), params[i]);
    return named;
  }
  static Tensor<T> count_tensor(long n) { return Tensor<T>::full(Shape{1}, static_cast<T>(n)); }

  const char* type_name_;
  double lr_ = 0.0;
  long step_count_ = 0;
  std::vector<std::string> names_;
  std::vector<Tensor<T>> params_;
  std::vector<long> param_steps_;
  std::vector<Slot> slots_;
  std::vector<std::size_t> active_;
};

}  // namespace everlora

#endif  // EVERLORA_OPTIM_OPTIMIZER_HPP
