// everlora — ELLA (METHODS.md, baselines): IncLoRA plus a penalty on the new update where the past
// updates are large, so tasks write to different weights:
//   λ · (1/L) Σ_layers ‖ΔW_t ⊙ W_past‖²_F,   ΔW_t = s·B_t A_t,   W_past = Σ_{j<t} s·B_j A_j
// W_past is a constant of the task, computed at its first step. λ = 100 is our default (ELLA's
// scale depends on the model; see docs/methods/baselines.md).
#ifndef EVERLORA_CONTINUAL_ELLA_HPP
#define EVERLORA_CONTINUAL_ELLA_HPP

#include <string>
#include <vector>

#include "everlora/continual/inc_lora.hpp"
#include "everlora/core/ops/elementwise.hpp"
#include "everlora/core/ops/matmul.hpp"
#include "everlora/core/ops/reduce.hpp"

namespace everlora {

/// Per adapted layer (in adapted_layers order): Σ_{e ≠ exclude} s_e·gate(B_e A_e), outside the
/// graph (the gate is Identity for plain LoRA; JumpLoRA's masked updates otherwise).
template <class T>
std::vector<Tensor<T>> ella_past_updates(Module<T>& model, const std::string& exclude) {
  NoGrad no_graph;
  std::vector<Tensor<T>> past;
  for (auto& [path, layer] : adapted_layers(model)) {
    auto& bank = layer->experts();
    Tensor<T> sum_w = Tensor<T>::zeros(layer->weight().shape());
    for (std::size_t e = 0; e < bank.size(); ++e)
      if (bank.names()[e] != exclude) sum_w = sum_w + layer->delta_weight(e) * bank[e].scale();
    past.push_back(sum_w);
  }
  return past;
}

/// (1/L) Σ_layers ‖s·B_new A_new ⊙ W_past‖²_F with `past` from ella_past_updates.
template <class T>
Tensor<T> ella_penalty(Module<T>& model, const std::string& new_expert, const std::vector<Tensor<T>>& past) {
  const auto layers = adapted_layers(model);
  if (layers.size() != past.size())
    throw Error(ErrorKind::shape, "ella_penalty: " + std::to_string(past.size()) + " past updates for " +
                                      std::to_string(layers.size()) + " adapted layers");
  Tensor<T> total;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const auto& expert = layers[l].second->experts().get(new_expert);
    Tensor<T> overlap = matmul(expert.b(), expert.a()) * (expert.scale()) * past[l];
    Tensor<T> term = sum(overlap * overlap);
    total = total.defined() ? total + term : term;
  }
  return total.defined() ? total * (T(1) / static_cast<T>(layers.size())) : total;
}

template <class T>
class Ella : public IncLora<T> {
 public:
  using IncLora<T>::IncLora;
  std::string name() const override { return "ella"; }
  void before_task(Workload<T>& workload, Index t) override {
    IncLora<T>::before_task(workload, t);
    current_ = task_expert_name(t);
    first_task_ = t == 0;
    past_.clear();
  }
  /// W_past is computed at the task's first step, once a wrapper has settled the frozen experts
  /// (I-LoRA gives them their slow values), so it holds the past updates the model computes with.
  Tensor<T> extra_loss(Workload<T>& workload, const std::vector<ExampleRef>&) override {
    if (first_task_) return {};
    if (past_.empty()) past_ = ella_past_updates(workload.model(), current_);
    return ella_penalty(workload.model(), current_, past_) * static_cast<T>(this->options_.ella_lambda);
  }

 private:
  std::string current_;
  bool first_task_ = true;
  std::vector<Tensor<T>> past_;
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_ELLA_HPP
