// everlora — RMSNorm over the last axis with a learned scale (1): Llama, Qwen and Mistral's norm.
#ifndef EVERLORA_NN_RMS_NORM_HPP
#define EVERLORA_NN_RMS_NORM_HPP

#include "everlora/core/ops/rms_norm.hpp"
#include "everlora/nn/module.hpp"

namespace everlora {

template <class T>
class RMSNorm : public Module<T> {
 public:
  explicit RMSNorm(Index dim, T eps = T(1e-6)) : eps_(eps) {
    this->register_parameter("weight", weight_, Tensor<T>::ones({dim}));
  }
  const char* type_name() const override { return "RMSNorm"; }
  Tensor<T> forward(const Tensor<T>& x) const { return rms_norm(x, weight_, eps_); }

 private:
  T eps_;
  Tensor<T> weight_;
};

}  // namespace everlora

#endif  // EVERLORA_NN_RMS_NORM_HPP
