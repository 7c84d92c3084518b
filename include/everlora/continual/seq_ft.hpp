// everlora — SeqFT (METHODS.md, baselines): full fine-tuning, every weight of the base trained
// through every task with no adapter at all. Not a LoRA method: the reference that tells what the
// low-rank restriction costs (the O-LoRA paper's "SeqFT" row). Run only when named.
#ifndef EVERLORA_CONTINUAL_SEQ_FT_HPP
#define EVERLORA_CONTINUAL_SEQ_FT_HPP

#include <string>

#include "everlora/continual/strategy.hpp"

namespace everlora {

template <class T>
class SeqFt : public Strategy<T> {
 public:
  using Strategy<T>::Strategy;
  std::string name() const override { return "seq_ft"; }
  void before_task(Workload<T>& workload, Index /*t*/) override {
    for (auto& [path, parameter] : workload.model().named_parameters())
      if (parameter.held_in_bf16())
        throw Error(ErrorKind::config, "seq_ft trains every weight of the base, but " + path +
                                           " is held in bfloat16 (load the base in float: cl_run --base-dtype f32)");
    workload.model().unfreeze();
  }
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_SEQ_FT_HPP
