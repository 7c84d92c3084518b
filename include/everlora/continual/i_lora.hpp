// everlora — I-LoRA, interpolation-based dual-memory LoRA (arXiv 2402.18865; METHODS.md "I-LoRA").
// A fast learner (the trained parameters) and a slow learner (SlowWeights: their EMA, no gradient)
// of identical shape, and a reservoir of past training examples. From the second task on, each
// step draws a replay batch M of the training batch's size and minimises
//   (CE(batch) + CE(M)) / 2 + γ · (1/L) Σ_l MSE(h_l^fast(M), stopgrad(y_l(M)))
// over the hidden states h_l after every block l, with y = h^slow (default) or, as in CLS-ER,
// max(h^fast, h^slow) elementwise; on the first task the loss is CE(batch) alone. After each step
// slow ← λ·slow + (1 − λ)·fast and the batch is offered to the reservoir. Scoring uses the slow
// learner; the fast one is scored beside it (the extra view "fast learner").
// Decisions where the paper is silent (docs/methods/i_lora.md): the slow target is computed in
// eval mode (no adapter dropout); the MSE averages over real tokens only (padding excluded); the
// inner strategy (SeqLoRA by default; IncLoRA, O-LoRA, ELLA or AM-LoRA) decides which parameters
// train and adds its own terms, and every parameter that trains gets a slow copy; a parameter the
// inner strategy freezes (IncLoRA's finished expert) takes its slow value in both learners.
#ifndef EVERLORA_CONTINUAL_I_LORA_HPP
#define EVERLORA_CONTINUAL_I_LORA_HPP

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "everlora/continual/replay_buffer.hpp"
#include "everlora/continual/slow_weights.hpp"
#include "everlora/continual/strategy.hpp"
#include "everlora/core/ops/elementwise.hpp"
#include "everlora/core/ops/reduce.hpp"

namespace everlora {

/// "slow" or "max" → the target; Error(config) naming anything else.
inline ILoraConfig::Target parse_consistency_target(const std::string& name) {
  if (name == "slow") return ILoraConfig::Target::slow;
  if (name == "max") return ILoraConfig::Target::max;
  throw Error(ErrorKind::config, "I-LoRA: unknown consistency target '" + name + "' (known: slow, max)");
}

/// The consistency term without γ: (1/L) Σ_l ‖h_l − y_l‖²_F / (rows · width_l), the mean squared
/// difference over the real rows of each block, averaged over the L blocks. `target` carries no
/// graph. Throws Error(shape) when the two do not have the same blocks of the same shapes.
template <class T>
Tensor<T> consistency_loss(const BlockFeatures<T>& fast, const BlockFeatures<T>& target) {
  if (fast.blocks.empty() || fast.blocks.size() != target.blocks.size() || fast.rows < 1)
    throw Error(ErrorKind::shape, "consistency_loss: " + std::to_string(fast.blocks.size()) + " fast blocks (" +
                                      std::to_string(fast.rows) + " rows) against " +
                                      std::to_string(target.blocks.size()) + " target blocks");
  Tensor<T> total;
  const double layers = static_cast<double>(fast.blocks.size());
  for (std::size_t l = 0; l < fast.blocks.size(); ++l) {
    const Tensor<T>& h = fast.blocks[l];
    if (h.shape() != target.blocks[l].shape())
      throw Error(ErrorKind::shape, "consistency_loss: block " + std::to_string(l) + " is " + h.shape().str() +
                                        " in the fast learner and " + target.blocks[l].shape().str() + " in the target");
    const Tensor<T> diff = h - target.blocks[l];
    const double count = layers * static_cast<double>(fast.rows) * static_cast<double>(h.shape().last());
    Tensor<T> term = sum(diff * diff) * static_cast<T>(1.0 / count);
    total = total.defined() ? total + term : term;
  }
  return total;
}

/// CLS-ER's target: max(fast, slow) elementwise, outside the graph.
template <class T>
BlockFeatures<T> max_target(const BlockFeatures<T>& fast, const BlockFeatures<T>& slow) {
  BlockFeatures<T> out{{}, slow.rows};
  for (std::size_t l = 0; l < slow.blocks.size() && l < fast.blocks.size(); ++l) {
    Tensor<T> y = slow.blocks[l].clone();
    if (fast.blocks[l].numel() != y.numel())
      throw Error(ErrorKind::shape, "max_target: block " + std::to_string(l) + " is " + fast.blocks[l].shape().str() +
                                        " in the fast learner and " + y.shape().str() + " in the slow one");
    y.vec() = y.vec().cwiseMax(fast.blocks[l].vec());
    out.blocks.push_back(std::move(y));
  }
  return out;
}

template <class T>
class ILora : public Strategy<T> {
 public:
  static constexpr const char* kFastView = "fast learner";

  /// `inner` adds the experts and their loss terms (SeqLora for the paper's I-LoRA).
  ILora(std::unique_ptr<Strategy<T>> inner, StrategyOptions options)
      : Strategy<T>(std::move(options)),
        inner_(std::move(inner)),
        slow_(this->options_.i_lora.decay),
        buffer_(this->options_.replay_capacity, this->options_.seed) {
    const double gamma = this->options_.i_lora.consistency;
    if (!(gamma >= 0.0 && std::isfinite(gamma)))
      throw Error(ErrorKind::config, "ILora: consistency weight " + std::to_string(gamma) + " must be finite and >= 0");
  }

  std::string name() const override { return inner_->name() == "seq_lora" ? "i_lora" : "i_lora+" + inner_->name(); }
  std::vector<Index> training_tasks(Index t) const override { return inner_->training_tasks(t); }

  void before_task(Workload<T>& workload, Index t) override {
    inner_->before_task(workload, t);
    slow_.settle();                  // what the inner strategy froze keeps its slow values
    slow_.follow(workload.model());  // the task's new parameters start with slow = fast
    task_ = t;
  }
  void before_steps(Workload<T>& workload, Index t, Index steps) override { inner_->before_steps(workload, t, steps); }

  Tensor<T> training_loss(Workload<T>& workload, const std::vector<ExampleRef>& batch) override {
    const bool replaying = task_ > 0 && !buffer_.empty();
    const std::vector<ExampleRef> replay = replaying ? buffer_.sample(static_cast<Index>(batch.size())) : std::vector<ExampleRef>{};
    BlockFeatures<T> target;
    if (replaying) target = slow_features(workload, replay);  // before any graph is built
    const Tensor<T> current = workload.loss(batch);
    // Right after the batch's forward pass: the inner strategy's terms may read it (AM-LoRA's gates).
    const Tensor<T> extra = inner_->extra_loss(workload, batch);
    Tensor<T> total = current;
    if (replaying) {
      BlockFeatures<T> fast;
      const Tensor<T> replayed = workload.loss_with_features(replay, fast);
      if (this->options_.i_lora.target == ILoraConfig::Target::max) target = max_target(fast, target);
      // The MSE averages over the replay batch's real rows: weighted by their share in data-parallel runs.
      const double gamma = this->options_.i_lora.consistency * workload.shard_weight(BatchMean::real_rows);
      total = (current + replayed) * T(0.5) + consistency_loss(fast, target) * static_cast<T>(gamma);
    }
    return extra.defined() ? total + extra : total;
  }

  void after_step(Workload<T>& workload, const std::vector<ExampleRef>& batch, long step) override {
    inner_->after_step(workload, batch, step);
    slow_.update();
    buffer_.offer(batch);
  }
  void after_task(Workload<T>& workload, Index t) override { inner_->after_task(workload, t); }
  void replay_after_task(Workload<T>& workload, Index t) override { inner_->replay_after_task(workload, t); }
  void save_state(StrategyState<T>& out) const override {
    StrategyState<T> inner;
    inner_->save_state(inner);
    out.nest("inner", std::move(inner));
    out.fields["buffer"] = replay_buffer_json(buffer_);
    for (auto& [name, slow] : slow_.state()) out.tensors.emplace("slow/" + name, slow);
  }
  void load_state(Workload<T>& workload, const StrategyState<T>& in) override {
    inner_->load_state(workload, in.nested("inner"));
    restore_replay_buffer(buffer_, in.field("buffer"), workload);
    slow_.load_state(tensors_under(in.tensors, "slow/"));
  }

  std::vector<std::string> extra_views() const override { return {kFastView}; }
  /// The main view is the slow learner; "fast learner" the trained parameters.
  void begin_scoring(Workload<T>&, const std::string& view) override {
    if (!view.empty() && view != kFastView)
      throw Error(ErrorKind::config, "ILora: no view '" + view + "' (views: \"\" for the slow learner, \"" + kFastView + "\")");
    if (slow_.swapped() != view.empty()) slow_.swap();
  }
  void end_scoring(Workload<T>&) override {
    if (slow_.swapped()) slow_.swap();
  }

  const SlowWeights<T>& slow() const { return slow_; }
  const ReplayBuffer& buffer() const { return buffer_; }
  Strategy<T>& inner() { return *inner_; }

 private:
  /// The slow learner's hidden states on `replay`: slow values swapped in, eval mode, no graph.
  BlockFeatures<T> slow_features(Workload<T>& workload, const std::vector<ExampleRef>& replay) {
    NoGrad no_graph;
    const SlowView<T> view(slow_);
    const EvalMode<T> eval_mode(workload.model());
    BlockFeatures<T> features;
    workload.loss_with_features(replay, features);
    return features;
  }

  std::unique_ptr<Strategy<T>> inner_;
  SlowWeights<T> slow_;
  ReplayBuffer buffer_;
  Index task_ = 0;
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_I_LORA_HPP
