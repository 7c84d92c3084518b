// everlora — Sum: every expert counts fully, y = base + Σ_e δ_e(x) (SeqLoRA, IncLoRA, O-LoRA).
#ifndef EVERLORA_ADAPTERS_COMBINERS_SUM_HPP
#define EVERLORA_ADAPTERS_COMBINERS_SUM_HPP

#include "everlora/adapters/combiners/combiner.hpp"

namespace everlora {

template <class T>
class Sum : public Combiner<T> {
 public:
  const char* type_name() const override { return "Sum"; }
  Tensor<T> weights(const CombinerInput<T>&) override { return Tensor<T>(); }
  bool mergeable() const override { return true; }
};

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_COMBINERS_SUM_HPP
