// everlora — SlowWeights: I-LoRA's slow learner (METHODS.md, "I-LoRA"). A copy of the parameters a
// method trains, outside every graph, moved towards them after each optimizer step:
//   slow ← λ·slow + (1 − λ)·fast        (elementwise, on A and B alike)
// Only parameters that train at the time move. When a parameter stops training (IncLoRA freezes a
// finished expert), settle() gives it its slow value in both learners: the slow learner is the
// memory, and a frozen part that differed between the two would make the consistency term ask
// the next expert to undo the difference. swap() exchanges every followed
// parameter's values with its slow copy, so one model computes as the slow learner (for scoring
// and for the consistency target) and then as the fast one again; SlowView does it for a scope.
#ifndef EVERLORA_CONTINUAL_SLOW_WEIGHTS_HPP
#define EVERLORA_CONTINUAL_SLOW_WEIGHTS_HPP

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "everlora/core/error.hpp"
#include "everlora/core/state_dict.hpp"
#include "everlora/nn/module.hpp"

namespace everlora {

template <class T>
class SlowWeights {
 public:
  /// `decay` is λ, in [0, 1]: 0 makes the slow copy equal the fast parameters after each update.
  explicit SlowWeights(double decay) : decay_(decay) {
    if (!(decay >= 0.0 && decay <= 1.0))
      throw Error(ErrorKind::config, "SlowWeights: decay " + std::to_string(decay) + " is not in [0, 1]");
  }

  /// Follows every parameter of `model` that requires grad and is not followed yet; its slow copy
  /// starts equal to it. Call it when a new task's parameters appear.
  void follow(Module<T>& model) {
    if (swapped_) throw Error(ErrorKind::config, "SlowWeights::follow while the slow values are swapped in");
    for (auto& [name, p] : model.named_parameters()) {
      if (!p.requires_grad() || find(name) != nullptr) continue;
      entries_.push_back({name, p, p.clone(), false});
    }
  }

  /// fast ← slow for every followed parameter that no longer requires grad and was not settled
  /// yet (see the file comment).
  void settle() {
    if (swapped_) throw Error(ErrorKind::config, "SlowWeights::settle while the slow values are swapped in");
    for (Entry& e : entries_)
      if (!e.fast.requires_grad() && !e.settled) {
        e.fast.vec() = e.slow.vec();
        e.settled = true;
      }
  }

  /// slow ← λ·slow + (1 − λ)·fast for every followed parameter that requires grad now.
  void update() {
    if (swapped_) throw Error(ErrorKind::config, "SlowWeights::update while the slow values are swapped in");
    const T keep = static_cast<T>(decay_), take = static_cast<T>(1.0 - decay_);
    for (Entry& e : entries_)
      if (e.fast.requires_grad()) e.slow.vec() = keep * e.slow.vec() + take * e.fast.vec();
  }

  /// Exchanges the values of every followed parameter and its slow copy (exact: no arithmetic).
  void swap() {
    for (Entry& e : entries_) std::swap_ranges(e.fast.data(), e.fast.data() + e.fast.numel(), e.slow.data());
    swapped_ = !swapped_;
  }
  /// Whether the parameters hold the slow values now.
  bool swapped() const { return swapped_; }

  /// The slow copy of parameter `name` (a model path); Error(config) naming it when not followed.
  const Tensor<T>& slow(const std::string& name) const {
    const Entry* e = find(name);
    if (!e) throw Error(ErrorKind::config, "SlowWeights: parameter '" + name + "' is not followed");
    return swapped_ ? e->fast : e->slow;  // after a swap the parameter's storage holds the slow values
  }
  /// The followed parameters' paths, in the order they were first followed.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const Entry& e : entries_) out.push_back(e.name);
    return out;
  }
  double decay() const { return decay_; }

  /// Parameter path → its slow copy (sharing storage), for checkpoints.
  StateDict<T> state() const {
    if (swapped_) throw Error(ErrorKind::config, "SlowWeights::state while the slow values are swapped in");
    StateDict<T> out;
    for (const Entry& e : entries_) out.emplace(e.name, e.slow);
    return out;
  }
  /// Copies saved slow values into every followed parameter's slow copy. Throws Error(format)
  /// naming a followed parameter that `saved` lacks, Error(shape) on a shape mismatch.
  void load_state(const StateDict<T>& saved) {
    if (swapped_) throw Error(ErrorKind::config, "SlowWeights::load_state while the slow values are swapped in");
    for (Entry& e : entries_) {
      const auto it = saved.find(e.name);
      if (it == saved.end()) throw Error(ErrorKind::format, "SlowWeights: no saved slow copy of '" + e.name + "'");
      if (it->second.shape() != e.slow.shape())
        throw Error(ErrorKind::shape, "SlowWeights: the saved slow copy of '" + e.name + "' is " + it->second.shape().str() +
                                          ", the parameter " + e.slow.shape().str());
      e.slow.vec() = it->second.vec();
    }
  }

 private:
  struct Entry {
    std::string name;
    Tensor<T> fast;  // shares the parameter's storage
    Tensor<T> slow;  // its own storage, never in a graph
    bool settled = false;
  };
  const Entry* find(const std::string& name) const {
    const auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.name == name; });
    return it == entries_.end() ? nullptr : &*it;
  }

  double decay_;
  std::vector<Entry> entries_;
  bool swapped_ = false;
};

/// The slow values in place for one scope (a no-op when they already are).
template <class T>
class SlowView {
 public:
  explicit SlowView(SlowWeights<T>& weights) : weights_(weights), swapped_here_(!weights.swapped()) {
    if (swapped_here_) weights_.swap();
  }
  ~SlowView() {
    if (swapped_here_) weights_.swap();
  }
  SlowView(const SlowView&) = delete;
  SlowView& operator=(const SlowView&) = delete;

 private:
  SlowWeights<T>& weights_;
  bool swapped_here_;
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_SLOW_WEIGHTS_HPP
