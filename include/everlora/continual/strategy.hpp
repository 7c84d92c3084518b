// everlora — Strategy<T>: what a continual-learning method does around training (ARCHITECTURE.md,
// "The seam"). The trainer calls, for each task t (0-based):
//   before_task(w, t)              add / freeze experts, snapshot what a penalty needs
//   before_steps(w, t, steps)      the task's step budget (schedules within a task)
//   for each step:  loss = training_loss(w, batch)   (by default w.loss(batch) + extra_loss);
//                   backward;  AdamW step;  after_step(w, batch, step)
//   after_task(w, t)               merge, fill buffers, record targets
//   scoring: begin_scoring(w, "") → R row;  for each of extra_views(): begin_scoring(w, view) →
//            that view's R row;  end_scoring(w)   (also once before the first task: R[0])
// and trains task t on the union of training_tasks(t) (just t, except for MTL).
// Run checkpoints (continual/run_checkpoint.hpp): save_state keeps what the model's parameters do
// not hold. To resume, the trainer rebuilds the model's structure by calling before_task and
// replay_after_task for every finished task, and, when the checkpoint is mid-task, before_task and
// before_steps of the task in progress; then it loads the parameters and calls load_state, which
// must set everything those calls set that the run had changed since.
// Strategies reach the model only through its adapted layers (adapters/attach.hpp).
#ifndef EVERLORA_CONTINUAL_STRATEGY_HPP
#define EVERLORA_CONTINUAL_STRATEGY_HPP

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "everlora/adapters/attach.hpp"
#include "everlora/adapters/combiners/attention_mixer.hpp"
#include "everlora/adapters/combiners/example_router.hpp"
#include "everlora/adapters/gates.hpp"
#include "everlora/adapters/lora_config.hpp"
#include "everlora/continual/strategy_state.hpp"
#include "everlora/continual/workload.hpp"

namespace everlora {

/// I-LoRA's knobs (METHODS.md, "I-LoRA").
struct ILoraConfig {
  /// Which hidden states the fast learner is pulled towards on the replay batch.
  enum class Target { slow, max };
  double decay = 0.99;       ///< λ of slow ← λ·slow + (1 − λ)·fast, in [0, 1]
  double consistency = 1.0;  ///< γ, the weight of the hidden-state MSE
  Target target = Target::slow;  ///< slow: h_slow; max: CLS-ER's max(h_fast, h_slow), elementwise
};

/// SAPT's knobs (METHODS.md, "SAPT").
struct SaptConfig {
  /// Where the pseudo inputs of attentive reflection come from: sampled from the model (the
  /// paper), a random sample of the task's stored training inputs, or generated when the
  /// workload's model can generate and stored otherwise (automatic).
  enum class Pseudo { automatic, generated, stored };
  Index bottleneck = 100;         ///< width of the query net's bottleneck (d → 100 → d)
  SequencePool pool = SequencePool::max;  ///< how the query summarises a prompt (SAPT: max)
  /// Standardise the summaries per feature (μ, σ of task 1's training prompts, then frozen) before
  /// the query net; not in the paper.
  bool standardize = false;
  double reflection = 1.0;        ///< λ of the attentive reflection (their scripts: 0.5–2)
  double pseudo_fraction = 0.02;  ///< share of a task's training set kept as pseudo inputs (≥ 1)
  Pseudo pseudo = Pseudo::automatic;
};

/// MoA's knobs (METHODS.md, "MoA").
struct MoaConfig {
  Index top_k = 1;            ///< experts mixed per example at inference (1: explicit routing)
  Index input_layer = 0;      ///< router input: 0 = prompt embeddings, k = base state after block k
  Index prompt_buffer = 64;   ///< labelled prompts kept per domain to fit the router
  Index router_steps = 300;   ///< full-batch AdamW steps of each refit
  double router_lr = 0.01;    ///< their learning rate
};

/// The knobs of every method in one place (the registry builds strategies from it).
struct StrategyOptions {
  LoraConfig lora;                 ///< rank, alpha, targets and seed of every expert
  double o_lora_lambda = 0.5;      ///< O-LoRA: weight of Σ|A_past A_newᵀ| (0.5 in its code)
  double ella_lambda = 100.0;      ///< ELLA: weight of (1/L) Σ ‖ΔW_t ⊙ W_past‖²_F (our default)
  Index replay_capacity = 500;     ///< replay: reservoir size in examples
  double am_l1_lambda = 0.01;      ///< AM-LoRA: weight of the L1 push on the gates (our default)
  AttentionMixerConfig mixer;      ///< AM-LoRA: the mixers' width, gate function and null expert
  JumpReluConfig jump;             ///< JumpLoRA: initial log-threshold and kernel bandwidth
  ILoraConfig i_lora;              ///< I-LoRA: EMA decay, consistency weight and target
  SaptConfig sapt;                 ///< SAPT: query net, attentive reflection, pseudo inputs
  MoaConfig moa;                   ///< MoA: top-k, router input, prompt buffer and fit
  std::uint64_t seed = 1;          ///< replay sampling, mixer initialisation
};

template <class T>
class Strategy {
 public:
  explicit Strategy(StrategyOptions options) : options_(std::move(options)) {}
  virtual ~Strategy() = default;

  /// The method's name on the command line ("seq_lora", "inc_lora", …).
  virtual std::string name() const = 0;
  /// The tasks whose training data task t trains on.
  virtual std::vector<Index> training_tasks(Index t) const { return {t}; }
  virtual void before_task(Workload<T>& workload, Index t) = 0;
  /// Called after before_task with the number of optimizer steps task t will take.
  virtual void before_steps(Workload<T>& /*workload*/, Index /*t*/, Index /*steps*/) {}
  /// A term added to the batch's task loss (undefined tensor: nothing to add).
  virtual Tensor<T> extra_loss(Workload<T>& /*workload*/, const std::vector<ExampleRef>& /*batch*/) { return {}; }
  /// The loss one training step minimises. Most methods keep this default and add terms through
  /// extra_loss; a method that reweights the task loss itself (I-LoRA) overrides it.
  virtual Tensor<T> training_loss(Workload<T>& workload, const std::vector<ExampleRef>& batch) {
    Tensor<T> loss = workload.loss(batch);
    Tensor<T> extra = extra_loss(workload, batch);
    return extra.defined() ? loss + extra : loss;
  }
  virtual void after_step(Workload<T>& /*workload*/, const std::vector<ExampleRef>& /*batch*/, long /*step*/) {}
  virtual void after_task(Workload<T>& /*workload*/, Index /*t*/) {}

  /// Views of the model scored beside the main one, each into its own R (I-LoRA: "fast learner"
  /// beside the slow learner it is scored with).
  virtual std::vector<std::string> extra_views() const { return {}; }
  /// Readies the model to be scored as `view` ("" = the method's main view).
  virtual void begin_scoring(Workload<T>& /*workload*/, const std::string& /*view*/) {}
  /// Returns the model to its training state after scoring.
  virtual void end_scoring(Workload<T>& /*workload*/) {}

  // ---- run checkpoints --------------------------------------------------------------------------
  /// What after_task(w, t) changes in the model's structure (experts removed, parameters frozen),
  /// without the work that only sets values: on resume the trainer calls it, after before_task(w,
  /// t), for every finished task t, and the saved values are loaded afterwards.
  virtual void replay_after_task(Workload<T>& /*workload*/, Index /*t*/) {}
  /// The method's state that the model's parameters do not hold.
  virtual void save_state(StrategyState<T>& /*out*/) const {}
  /// Restores save_state's output, after the model's structure is rebuilt and its parameters loaded.
  virtual void load_state(Workload<T>& /*workload*/, const StrategyState<T>& /*in*/) {}

  const StrategyOptions& options() const { return options_; }

 protected:
  StrategyOptions options_;
};

/// The name of task t's expert: "task1", "task2", … (1-based, as in the papers).
inline std::string task_expert_name(Index t) { return "task" + std::to_string(t + 1); }

/// Makes every adapted layer of `model` mix its experts with `router`'s per-example weights.
template <class T>
void route_layers_through(Module<T>& model, const std::shared_ptr<ExampleRouter<T>>& router) {
  for (auto& [path, layer] : adapted_layers(model)) {
    auto* routed = dynamic_cast<RoutedCombiner<T>*>(&layer->combiner());
    if (!routed || &routed->router() != router.get()) layer->set_combiner(std::make_shared<RoutedCombiner<T>>(router));
  }
}

/// Adds expert `name` to every targeted layer (attaching adapters on first use) and makes it the
/// only trainable expert. Each task's expert gets its own initialisation seed (lora.seed + t), so
/// experts of different tasks start from different A's.
template <class T>
void add_task_expert(Module<T>& model, LoraConfig lora, const std::string& name, Index t) {
  lora.seed += static_cast<std::uint64_t>(t);
  attach(model, lora, name);
  for (auto& [path, layer] : adapted_layers(model)) {
    auto& bank = layer->experts();
    for (std::size_t e = 0; e < bank.size(); ++e) bank[e].set_trainable(bank.names()[e] == name);
  }
}

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_STRATEGY_HPP
