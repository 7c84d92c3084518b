// everlora — the Combiner seam: how the experts of one adapted layer become one output.
// A combiner returns the mixing weights c [N, K] for the N rows of the layer's input, or an
// undefined tensor meaning "every c = 1" (Sum, the fast path). It is a Module, so a learned
// combiner's parameters (AM-LoRA's mixer, SAPT's and MoA's routers) live in the model's state.
// Methods add combiners (AttentionMixer, SharedAttentionRouter, DomainRouter) by deriving here.
#ifndef EVERLORA_ADAPTERS_COMBINERS_COMBINER_HPP
#define EVERLORA_ADAPTERS_COMBINERS_COMBINER_HPP

#include "everlora/nn/module.hpp"

namespace everlora {

template <class T>
class Combiner : public Module<T> {
 public:
  /// Weights [rows of x, experts] for input x [.., in], or undefined for all ones.
  virtual Tensor<T> weights(const Tensor<T>& x, Index experts) = 0;
  /// Whether the weights are constant, so experts can be merged into the base weight exactly.
  virtual bool mergeable() const = 0;
};

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_COMBINERS_COMBINER_HPP
