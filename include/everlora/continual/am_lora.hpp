// everlora — AM-LoRA (arXiv 2409.19611; METHODS.md "AM-LoRA"): a new expert per task, older ones
// frozen, mixed per token by an AttentionMixer in every adapted layer. The mixers are created at
// the first task and carried (and trained) through every task. The loss adds the L1 push to
// sparse gates,
//   λ_L1 · (1/L) Σ_layers (1/N) Σ_tokens ‖g‖₁
// averaged over the L adapted layers (our decision: λ then does not depend on how many layers are
// adapted). With softmax gates the term is the constant λ_L1 and gives no gradient (a row sums to
// 1); sigmoid is the default for that reason (docs/methods/am_lora.md).
#ifndef EVERLORA_CONTINUAL_AM_LORA_HPP
#define EVERLORA_CONTINUAL_AM_LORA_HPP

#include <memory>
#include <string>
#include <vector>

#include "everlora/adapters/combiners/attention_mixer.hpp"
#include "everlora/continual/strategy.hpp"

namespace everlora {

/// The AttentionMixer of every adapted layer of `model`, by layer path (layers with another
/// combiner are left out).
template <class T>
std::vector<std::pair<std::string, AttentionMixer<T>*>> attention_mixers(Module<T>& model) {
  std::vector<std::pair<std::string, AttentionMixer<T>*>> out;
  for (auto& [path, layer] : adapted_layers(model))
    if (auto* mixer = dynamic_cast<AttentionMixer<T>*>(&layer->combiner())) out.emplace_back(path, mixer);
  return out;
}

/// (1/L) Σ_layers mean_tokens ‖g‖₁ over the mixers' last forward pass (undefined without mixers).
template <class T>
Tensor<T> gate_l1_penalty(Module<T>& model) {
  Tensor<T> total;
  const auto mixers = attention_mixers(model);
  for (const auto& [path, mixer] : mixers) {
    const Tensor<T>& g = mixer->last_gates();
    if (!g.defined()) continue;
    Tensor<T> term = sum(abs(g)) * (T(1) / static_cast<T>(g.dim(0)));
    total = total.defined() ? total + term : term;
  }
  return total.defined() ? total * (T(1) / static_cast<T>(mixers.size())) : total;
}

/// How the mixers route each task's inputs (AM-LoRA's reports), measured by scoring every task on
/// `split` with the mixers' statistics reset before each task.
struct MixerRouting {
  std::vector<std::string> layers;              ///< adapted layers with a mixer
  std::vector<std::vector<double>> mean_gate;   ///< [task][expert]: mean gate, averaged over layers
  std::vector<std::vector<double>> sparsity;    ///< [layer][task]: share of gates below 0.01
};

template <class T>
MixerRouting measure_mixer_routing(Workload<T>& workload, Split split) {
  MixerRouting out;
  const auto mixers = attention_mixers(workload.model());
  for (const auto& [path, mixer] : mixers) out.layers.push_back(path);
  out.sparsity.assign(mixers.size(), std::vector<double>(static_cast<std::size_t>(workload.num_tasks()), 0.0));
  for (Index t = 0; t < workload.num_tasks(); ++t) {
    for (const auto& [path, mixer] : mixers) mixer->reset_stats();
    workload.score(t, split);
    std::vector<double> row;
    for (std::size_t l = 0; l < mixers.size(); ++l) {
      const auto& stats = mixers[l].second->stats();
      if (row.empty()) row.assign(stats.gate_sum.size(), 0.0);
      for (std::size_t e = 0; e < row.size(); ++e) row[e] += stats.mean_gate(e) / static_cast<double>(mixers.size());
      out.sparsity[l][static_cast<std::size_t>(t)] = stats.sparsity();
    }
    out.mean_gate.push_back(std::move(row));
  }
  return out;
}

template <class T>
class AmLora : public Strategy<T> {
 public:
  using Strategy<T>::Strategy;
  std::string name() const override { return "am_lora"; }

  void before_task(Workload<T>& workload, Index t) override {
    Module<T>& model = workload.model();
    add_task_expert(model, this->options_.lora, task_expert_name(t), t);
    std::uint64_t layer = 0;
    for (auto& [path, adapted] : adapted_layers(model)) {
      ++layer;
      if (dynamic_cast<AttentionMixer<T>*>(&adapted->combiner())) continue;  // carried over
      Rng rng(this->options_.seed * 1000003ULL + layer);
      adapted->set_combiner(std::make_shared<AttentionMixer<T>>(adapted->in_features(), adapted->out_features(),
                                                                this->options_.mixer, rng));
    }
  }

  Tensor<T> extra_loss(Workload<T>& workload, const std::vector<ExampleRef>&) override {
    if (this->options_.am_l1_lambda == 0) return {};
    Tensor<T> penalty = gate_l1_penalty(workload.model());
    // A mean over the rows of the batch's forward pass: weighted by its share in data-parallel runs.
    const double weight = this->options_.am_l1_lambda * workload.shard_weight(BatchMean::all_rows);
    return penalty.defined() ? penalty * static_cast<T>(weight) : penalty;
  }
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_AM_LORA_HPP
