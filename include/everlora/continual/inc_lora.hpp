// everlora — IncLoRA (METHODS.md, baselines): a new expert per task, older ones frozen, all summed:
// y = base + Σ_e δ_e(x). Old experts are bit-identical after later tasks (a test checks it); a
// finished expert may also be merged into W0 (AdaptedLinear::merge_expert), which is equivalent.
#ifndef EVERLORA_CONTINUAL_INC_LORA_HPP
#define EVERLORA_CONTINUAL_INC_LORA_HPP

#include <string>

#include "everlora/continual/strategy.hpp"

namespace everlora {

template <class T>
class IncLora : public Strategy<T> {
 public:
  using Strategy<T>::Strategy;
  std::string name() const override { return "inc_lora"; }
  void before_task(Workload<T>& workload, Index t) override {
    add_task_expert(workload.model(), this->options_.lora, task_expert_name(t), t);
  }
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_INC_LORA_HPP
