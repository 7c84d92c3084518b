// everlora — LoraExpert: one low-rank update δ(x) = s·(x·Aᵀ)·Bᵀ of a linear layer.
// Parameters: lora_A [r, in], lora_B [out, r]; each expert has its own trainable flag and scale.
#ifndef EVERLORA_ADAPTERS_LORA_EXPERT_HPP
#define EVERLORA_ADAPTERS_LORA_EXPERT_HPP

#include <cmath>
#include <memory>
#include <string>

#include "everlora/adapters/lora_config.hpp"
#include "everlora/nn/module.hpp"

namespace everlora {

template <class T>
class LoraExpert : public Module<T> {
 public:
  /// A new expert of config.r for an [out, in] layer, initialised by config.init (B = 0).
  LoraExpert(Index in, Index out, const LoraConfig& config, Rng& rng)
      : scale_(static_cast<T>(config.scale())) {
    config.validate();
    Tensor<T> a = config.init == LoraInit::peft
                      ? Tensor<T>::uniform({config.r, in}, rng, T(-1) / std::sqrt(T(in)), T(1) / std::sqrt(T(in)))
                      : Tensor<T>::normal({config.r, in}, rng, T(0), T(1) / static_cast<T>(config.r));
    this->register_parameter("lora_A", a_, std::move(a));
    this->register_parameter("lora_B", b_, Tensor<T>::zeros({out, config.r}));
  }
  const char* type_name() const override { return "LoraExpert"; }

  Tensor<T>& a() { return a_; }
  const Tensor<T>& a() const { return a_; }
  Tensor<T>& b() { return b_; }
  const Tensor<T>& b() const { return b_; }
  Index rank() const { return a_.dim(0); }
  T scale() const { return scale_; }
  bool trainable() const { return a_.requires_grad(); }
  void set_trainable(bool on) {
    a_.requires_grad_(on);
    b_.requires_grad_(on);
  }

 private:
  T scale_;
  Tensor<T> a_, b_;
};

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_LORA_EXPERT_HPP
