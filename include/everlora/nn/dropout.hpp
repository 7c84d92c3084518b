// everlora — Dropout as a module: active in training mode, the identity in eval mode.
// Each module draws its masks from its own seeded generator, so runs are reproducible.
#ifndef EVERLORA_NN_DROPOUT_HPP
#define EVERLORA_NN_DROPOUT_HPP

#include <cstdint>

#include "everlora/core/ops/dropout.hpp"
#include "everlora/nn/module.hpp"

namespace everlora {

template <class T>
class Dropout : public Module<T> {
 public:
  Dropout(double p, std::uint64_t seed) : p_(p), rng_(seed) {
    if (!(p >= 0.0 && p < 1.0))
      throw Error(ErrorKind::config, "Dropout: p = " + std::to_string(p) + " is outside [0, 1)");
  }
  const char* type_name() const override { return "Dropout"; }
  Tensor<T> forward(const Tensor<T>& x) {
    return this->training() && p_ > 0.0 ? dropout(x, p_, rng_) : x;
  }
  Rng& rng() { return rng_; }

 private:
  double p_;
  Rng rng_;
};

}  // namespace everlora

#endif  // EVERLORA_NN_DROPOUT_HPP
