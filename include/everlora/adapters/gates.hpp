// everlora — the Gate seam: what happens inside one expert. A gate maps the expert's dense update
// ΔW = B·A to the update the layer applies. Identity is plain LoRA, and keeps the low-rank fast
// path (ΔW is never formed); JumpLoRA's JumpReLU gate (ΔW ⊙ 1[|ΔW| > θ]) derives from Gate.
#ifndef EVERLORA_ADAPTERS_GATES_HPP
#define EVERLORA_ADAPTERS_GATES_HPP

#include "everlora/nn/module.hpp"

namespace everlora {

template <class T>
class Gate : public Module<T> {
 public:
  /// True when the gate leaves ΔW unchanged, so the layer may use the low-rank path.
  virtual bool is_identity() const = 0;
  /// The gated update for a dense ΔW [out, in] (differentiable).
  virtual Tensor<T> apply(const Tensor<T>& delta_w) = 0;
};

template <class T>
class Identity : public Gate<T> {
 public:
  const char* type_name() const override { return "Identity"; }
  bool is_identity() const override { return true; }
  Tensor<T> apply(const Tensor<T>& delta_w) override { return delta_w; }
};

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_GATES_HPP
