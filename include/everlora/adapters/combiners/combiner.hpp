// everlora — the Combiner seam: how the experts of one adapted layer become one output.
// A combiner returns the mixing weights c [N, K] for the N rows of the layer's input, or an
// undefined tensor meaning "every c = 1" (Sum, the fast path). It sees the layer's input and its
// experts, so weights may depend on the experts' own outputs (AM-LoRA scores them). It is a
// Module, so a learned combiner's parameters (AM-LoRA's mixer, SAPT's and MoA's routers) live in
// the model's state.
// Methods add combiners (AttentionMixer, SharedAttentionRouter, DomainRouter) by deriving here.
#ifndef EVERLORA_ADAPTERS_COMBINERS_COMBINER_HPP
#define EVERLORA_ADAPTERS_COMBINERS_COMBINER_HPP

#include <vector>

#include "everlora/adapters/expert_bank.hpp"
#include "everlora/nn/module.hpp"

namespace everlora {

/// What a combiner may look at in one forward pass of an adapted layer.
template <class T>
struct CombinerInput {
  const Tensor<T>& x;          ///< the layer's input [.., in]
  const Tensor<T>& x_adapter;  ///< the experts' input (x, or x after the adapters' dropout)
  ExpertBank<T>& experts;      ///< the layer's experts, in order
  /// The experts' outputs e_e = s_e·x̃·gate(ΔW_e)ᵀ [.., out] when the layer formed them (a gate
  /// other than Identity), else null: then e_e = s_e·(x̃·A_eᵀ)·B_eᵀ.
  const std::vector<Tensor<T>>* expert_outputs = nullptr;
  /// Where a combiner that computes U = x̃·A_stackᵀ [rows, Σ r_e] (the experts' rank activations,
  /// in bank order) may leave it, so the layer reuses it instead of computing it again; or null.
  Tensor<T>* rank_activations = nullptr;
};

template <class T>
class Combiner : public Module<T> {
 public:
  /// Weights [rows of x, experts] (or [examples, experts] when per_example()) for one forward
  /// pass, or undefined for all ones.
  virtual Tensor<T> weights(const CombinerInput<T>& in) = 0;
  /// Whether the weights are constant, so experts can be merged into the base weight exactly.
  virtual bool mergeable() const = 0;
  /// Whether weights() has one row per example [B, K] rather than per input row (SAPT's and
  /// MoA's routers): an example's rows are consecutive, and an expert of weight 0 is skipped.
  virtual bool per_example() const { return false; }
};

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_COMBINERS_COMBINER_HPP
