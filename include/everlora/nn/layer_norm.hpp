// everlora — LayerNorm over the last axis with a learned scale (1) and shift (0).
#ifndef EVERLORA_NN_LAYER_NORM_HPP
#define EVERLORA_NN_LAYER_NORM_HPP

#include "everlora/core/ops/layer_norm.hpp"
#include "everlora/nn/module.hpp"

namespace everlora {

template <class T>
class LayerNorm : public Module<T> {
 public:
  explicit LayerNorm(Index dim, T eps = T(1e-5)) : eps_(eps) {
    this->register_parameter("weight", weight_, Tensor<T>::ones({dim}));
    this->register_parameter("bias", bias_, Tensor<T>::zeros({dim}));
  }
  const char* type_name() const override { return "LayerNorm"; }
  Tensor<T> forward(const Tensor<T>& x) const { return layer_norm(x, weight_, bias_, eps_); }

 private:
  T eps_;
  Tensor<T> weight_, bias_;
};

}  // namespace everlora

#endif  // EVERLORA_NN_LAYER_NORM_HPP
