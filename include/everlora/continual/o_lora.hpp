// everlora — O-LoRA (METHODS.md, baselines): IncLoRA plus an orthogonality penalty that keeps the
// new expert's subspace away from the old ones':
//   λ1 · Σ_layers Σ_{past e} Σ_ij |(A_e A_newᵀ)_ij|        (element-wise L1 of the r_e × r product)
// λ1 = 0.5 as in the authors' code. The past A's are frozen, so only A_new receives gradient.
#ifndef EVERLORA_CONTINUAL_O_LORA_HPP
#define EVERLORA_CONTINUAL_O_LORA_HPP

#include <string>

#include "everlora/continual/inc_lora.hpp"
#include "everlora/core/ops/activations.hpp"
#include "everlora/core/ops/matmul.hpp"
#include "everlora/core/ops/reduce.hpp"

namespace everlora {

/// Σ_layers Σ_{e ≠ new} Σ |A_e A_newᵀ| over the adapted layers of `model` (undefined when no
/// layer has another expert).
template <class T>
Tensor<T> o_lora_penalty(Module<T>& model, const std::string& new_expert) {
  Tensor<T> total;
  for (auto& [path, layer] : adapted_layers(model)) {
    auto& bank = layer->experts();
    const Tensor<T>& a_new = bank.get(new_expert).a();
    for (std::size_t e = 0; e < bank.size(); ++e) {
      if (bank.names()[e] == new_expert) continue;
      Tensor<T> term = sum(abs(matmul_nt(bank[e].a(), a_new)));
      total = total.defined() ? total + term : term;
    }
  }
  return total;
}

template <class T>
class OLora : public IncLora<T> {
 public:
  using IncLora<T>::IncLora;
  std::string name() const override { return "o_lora"; }
  void before_task(Workload<T>& workload, Index t) override {
    IncLora<T>::before_task(workload, t);
    current_ = task_expert_name(t);
  }
  Tensor<T> extra_loss(Workload<T>& workload, const std::vector<ExampleRef>&) override {
    Tensor<T> penalty = o_lora_penalty(workload.model(), current_);
    return penalty.defined() ? penalty * static_cast<T>(this->options_.o_lora_lambda) : penalty;
  }

 private:
  std::string current_;
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_O_LORA_HPP
