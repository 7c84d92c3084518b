// everlora — Linear: y = x·Wᵀ + b, W [out, in], b [out] (optional).
// forward is virtual so an adapted layer (adapters/) can stand in for a Linear by name.
#ifndef EVERLORA_NN_LINEAR_HPP
#define EVERLORA_NN_LINEAR_HPP

#include <cmath>
#include <string>

#include "everlora/core/ops/elementwise.hpp"
#include "everlora/core/ops/matmul.hpp"
#include "everlora/nn/module.hpp"

namespace everlora {

template <class T>
class Linear : public Module<T> {
 public:
  /// PyTorch's default initialisation: W and b uniform in ±1/√in.
  Linear(Index in_features, Index out_features, bool bias, Rng& rng)
      : in_(in_features), out_(out_features) {
    if (in_features < 1 || out_features < 1)
      throw Error(ErrorKind::config, "Linear: sizes must be >= 1, got in " +
                                         std::to_string(in_features) + ", out " +
                                         std::to_string(out_features));
    const T bound = T(1) / std::sqrt(static_cast<T>(in_features));
    this->register_parameter("weight", weight_, Tensor<T>::uniform({out_, in_}, rng, -bound, bound));
    if (bias) this->register_parameter("bias", bias_, Tensor<T>::uniform({out_}, rng, -bound, bound));
  }

  /// Adopts existing tensors (sharing storage): W [out, in] and b [out] or an undefined tensor.
  Linear(Tensor<T> weight, Tensor<T> bias) : in_(weight.rank() == 2 ? weight.dim(1) : 0), out_(weight.rank() == 2 ? weight.dim(0) : 0) {
    if (weight.rank() != 2 || (bias.defined() && bias.shape() != Shape{out_}))
      throw Error(ErrorKind::shape, "Linear: weight " + weight.shape().str() + " must be [out, in]" +
                                        (bias.defined() ? " and bias " + bias.shape().str() + " [out]" : ""));
    const bool w_grad = weight.requires_grad(), b_grad = bias.defined() && bias.requires_grad();
    this->register_parameter("weight", weight_, std::move(weight));
    weight_.requires_grad_(w_grad);
    if (bias.defined()) {
      this->register_parameter("bias", bias_, std::move(bias));
      bias_.requires_grad_(b_grad);
    }
  }

  const char* type_name() const override { return "Linear"; }

  /// x [.., in] → [.., out].
  virtual Tensor<T> forward(const Tensor<T>& x) {
    if (x.rank() < 1 || x.shape().last() != in_)
      throw Error(ErrorKind::shape, "Linear(" + std::to_string(in_) + " -> " + std::to_string(out_) +
                                        "): input " + x.shape().str() + " does not end in " +
                                        std::to_string(in_));
    Tensor<T> y = matmul_nt(x, weight_);
    return bias_.defined() ? y + bias_ : y;
  }

  Index in_features() const { return in_; }
  Index out_features() const { return out_; }
  Tensor<T>& weight() { return weight_; }
  const Tensor<T>& weight() const { return weight_; }
  bool has_bias() const { return bias_.defined(); }
  Tensor<T>& bias() { return bias_; }
  const Tensor<T>& bias() const { return bias_; }

 private:
  Index in_, out_;
  Tensor<T> weight_, bias_;
};

}  // namespace everlora

#endif  // EVERLORA_NN_LINEAR_HPP
