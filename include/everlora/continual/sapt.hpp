// everlora — SAPT (arXiv 2401.08295; METHODS.md "SAPT"): a new expert per task, older ones frozen,
// mixed in every adapted layer by one SharedAttentionRouter weight vector per example. At task t
// the new expert, the new key and the query net train. Attentive reflection keeps the shared
// query net from drifting: after task j it records
//   ā_j = the mean routing weights on task j's dev set            (j + 1 entries)
// and keeps pseudo inputs x̂_j (pseudo_fraction of the training set, at least one), and later
// tasks add
//   λ · Σ_{j<t} mean_{x̂ ∈ x̂_j} KL(ā_j, zero-padded to t + 1 keys ‖ softmax(scores(x̂)))
// Pseudo inputs are sampled from the model with task j's expert alone active, prompted with the
// task's instruction (the paper), or drawn from the stored training inputs (the option, and the
// only way for a model that cannot generate). Only their prompt summaries are kept: the query
// net reads frozen embeddings, so a summary never changes.
#ifndef EVERLORA_CONTINUAL_SAPT_HPP
#define EVERLORA_CONTINUAL_SAPT_HPP

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "everlora/adapters/combiners/shared_attention_router.hpp"
#include "everlora/continual/example_routing.hpp"
#include "everlora/continual/strategy.hpp"
#include "everlora/core/ops/reduce.hpp"
#include "everlora/core/ops/softmax.hpp"

namespace everlora {

/// "automatic", "generated" or "stored"; Error(config) naming the value otherwise.
inline SaptConfig::Pseudo parse_pseudo_source(const std::string& name) {
  if (name == "automatic") return SaptConfig::Pseudo::automatic;
  if (name == "generated") return SaptConfig::Pseudo::generated;
  if (name == "stored") return SaptConfig::Pseudo::stored;
  throw Error(ErrorKind::config, "pseudo input source '" + name + "' is not one of automatic, generated, stored");
}

/// The reflection target of a task recorded with fewer keys: ā followed by zeros up to `keys`.
inline std::vector<double> padded_reflection_target(const std::vector<double>& target, Index keys) {
  if (static_cast<Index>(target.size()) > keys)
    throw Error(ErrorKind::shape, "padded_reflection_target: a target over " + std::to_string(target.size()) +
                                      " keys cannot be padded to " + std::to_string(keys));
  std::vector<double> padded(target);
  padded.resize(static_cast<std::size_t>(keys), 0.0);
  return padded;
}

/// mean over rows of KL(target ‖ softmax(scores_row)) for scores [n, k] and a target over k
/// entries (0·log 0 = 0), with autograd through the scores.
template <class T>
Tensor<T> reflection_kl(const Tensor<T>& scores, const std::vector<double>& target) {
  const Index n = scores.dim(0), k = scores.dim(1);
  if (static_cast<Index>(target.size()) != k)
    throw Error(ErrorKind::shape, "reflection_kl: scores " + scores.shape().str() + " against a target over " +
                                      std::to_string(target.size()) + " keys");
  Tensor<T> weights = Tensor<T>::empty({n, k});
  double negative_entropy = 0;  // Σ a·log a, the part of the KL that does not depend on the scores
  for (Index e = 0; e < k; ++e) {
    const double a = target[static_cast<std::size_t>(e)];
    if (a > 0) negative_entropy += a * std::log(a);
    for (Index i = 0; i < n; ++i) weights[i * k + e] = static_cast<T>(a);
  }
  return add_scalar(sum(weights * log_softmax(scores)) * (T(-1) / static_cast<T>(n)), static_cast<T>(negative_entropy));
}

template <class T>
class Sapt : public Strategy<T> {
 public:
  explicit Sapt(StrategyOptions options) : Strategy<T>(std::move(options)) {
    const SaptConfig& c = this->options_.sapt;
    if (c.bottleneck < 1) throw Error(ErrorKind::config, "sapt: bottleneck must be at least 1, got " + std::to_string(c.bottleneck));
    if (!(c.reflection >= 0)) throw Error(ErrorKind::config, "sapt: reflection weight must be >= 0, got " + std::to_string(c.reflection));
    if (!(c.pseudo_fraction >= 0 && c.pseudo_fraction <= 1))
      throw Error(ErrorKind::config, "sapt: pseudo_fraction must be in [0, 1], got " + std::to_string(c.pseudo_fraction));
  }
  std::string name() const override { return "sapt"; }

  void before_task(Workload<T>& workload, Index t) override {
    if (!router_) {
      Rng rng(this->options_.seed * 1000003ULL + 101);
      router_ = std::make_shared<SharedAttentionRouter<T>>(routing_width(workload, 0), this->options_.sapt.bottleneck, rng, this->options_.sapt.pool);
      install_router<T>(workload, router_);
      if (this->options_.sapt.standardize) {
        const auto sample = sample_examples(workload, t, kStandardizeSample, this->options_.seed * 1000003ULL + 503);
        router_->standardizer().fit(routing_summaries(workload, sample, Split::train, 0,
                                                      [&](const RoutingInput<T>& in) { return router_->summarize(in); }));
      }
    }
    add_task_expert(workload.model(), this->options_.lora, task_expert_name(t), t);
    route_layers_through<T>(workload.model(), router_);
    Rng key_rng(this->options_.seed * 1000003ULL + 211 + static_cast<std::uint64_t>(t));
    router_->add_key(key_rng);
  }

  /// λ · Σ_j mean KL(ā_j ‖ softmax(scores(x̂_j))) over the tasks before the current one.
  Tensor<T> extra_loss(Workload<T>&, const std::vector<ExampleRef>&) override {
    if (this->options_.sapt.reflection == 0 || targets_.empty()) return {};
    return reflection_loss() * static_cast<T>(this->options_.sapt.reflection);
  }
  /// Σ_j mean KL(ā_j ‖ softmax(scores(x̂_j))) with the router's current keys (undefined before
  /// any task has ended).
  Tensor<T> reflection_loss() {
    Tensor<T> total;
    for (std::size_t j = 0; j < targets_.size(); ++j) {
      Tensor<T> kl = reflection_kl(router_->scores(pseudo_[j]), padded_reflection_target(targets_[j], router_->num_experts()));
      total = total.defined() ? total + kl : kl;
    }
    return total;
  }

  void after_task(Workload<T>& workload, Index t) override {
    const Index layer = router_->input_layer();
    Split split = workload.split_size(t, Split::dev) > 0 ? Split::dev : Split::train;
    const Tensor<T> weights = routing_summaries(workload, split_examples(workload, t, split), split, layer,
                                                [&](const RoutingInput<T>& in) { return router_->compute(in); });
    targets_.push_back(mean_routing_weights(weights));

    const Index train = workload.train_size(t);
    const Index count = std::min<Index>(train, std::max<Index>(1, std::llround(this->options_.sapt.pseudo_fraction * static_cast<double>(train))));
    const std::uint64_t seed = this->options_.seed * 1000003ULL + 307 + static_cast<std::uint64_t>(t);
    Rng rng(seed);
    const auto summarize = [&](const RoutingInput<T>& in) { return router_->summarize(in); };
    if (generates(workload)) {
      NoGrad no_graph;
      const ForcedExpert<T> alone(*router_, t);
      pseudo_.push_back(summarize(workload.generated_routing_input(t, count, rng, layer)));
    } else {
      pseudo_.push_back(routing_summaries(workload, sample_examples(workload, t, count, seed), Split::train, layer, summarize));
    }
  }

  void save_state(StrategyState<T>& out) const override {
    out.fields["targets"] = targets_;
    for (std::size_t j = 0; j < pseudo_.size(); ++j) out.tensors.emplace("pseudo/" + std::to_string(j), pseudo_[j]);
  }
  void load_state(Workload<T>& workload, const StrategyState<T>& in) override {
    targets_ = in.template get<std::vector<std::vector<double>>>("targets");
    pseudo_.clear();
    for (std::size_t j = 0; j < targets_.size(); ++j) {
      const Tensor<T>& summaries = in.tensor("pseudo/" + std::to_string(j));
      const bool fits = static_cast<Index>(j) < workload.num_tasks() && targets_[j].size() == j + 1 && summaries.rank() == 2 &&
                        summaries.dim(0) >= 1 && summaries.dim(1) == router_->width();
      if (!fits)
        throw Error(ErrorKind::format, "the checkpoint's SAPT state for task " + std::to_string(j + 1) + " (a target of " +
                                           std::to_string(targets_[j].size()) + " weights, pseudo summaries " + summaries.shape().str() +
                                           ") does not fit a router of width " + std::to_string(router_->width()));
      pseudo_.push_back(summaries);
    }
  }

  SharedAttentionRouter<T>* router() const { return router_.get(); }
  /// Training prompts of task 1 that fit the standardisation (when SaptConfig::standardize).
  static constexpr Index kStandardizeSample = 256;
  /// ā_j of every finished task (j + 1 entries each).
  const std::vector<std::vector<double>>& targets() const { return targets_; }
  /// The prompt summaries of every finished task's pseudo inputs, [count, width] each.
  const std::vector<Tensor<T>>& pseudo_summaries() const { return pseudo_; }

 private:
  bool generates(const Workload<T>& workload) const {
    switch (this->options_.sapt.pseudo) {
      case SaptConfig::Pseudo::generated: return true;  // a workload that cannot generate says so
      case SaptConfig::Pseudo::stored: return false;
      case SaptConfig::Pseudo::automatic: break;
    }
    return workload.can_generate_inputs();
  }

  std::shared_ptr<SharedAttentionRouter<T>> router_;
  std::vector<std::vector<double>> targets_;
  std::vector<Tensor<T>> pseudo_;
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_SAPT_HPP
