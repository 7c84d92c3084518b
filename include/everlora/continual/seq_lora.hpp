// everlora — SeqLoRA (METHODS.md, baselines): one expert trained through every task. It forgets:
// the lower bound every method is compared with.
#ifndef EVERLORA_CONTINUAL_SEQ_LORA_HPP
#define EVERLORA_CONTINUAL_SEQ_LORA_HPP

#include <string>

#include "everlora/continual/strategy.hpp"

namespace everlora {

template <class T>
class SeqLora : public Strategy<T> {
 public:
  static constexpr const char* kExpert = "shared";
  using Strategy<T>::Strategy;
  std::string name() const override { return "seq_lora"; }
  void before_task(Workload<T>& workload, Index t) override {
    if (t == 0) add_task_expert(workload.model(), this->options_.lora, kExpert, 0);
  }
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_SEQ_LORA_HPP
