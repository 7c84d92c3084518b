// everlora — Embedding: a table of vectors looked up by integer id.
#ifndef EVERLORA_NN_EMBEDDING_HPP
#define EVERLORA_NN_EMBEDDING_HPP

#include <cstdint>
#include <vector>

#include "everlora/core/ops/embedding.hpp"
#include "everlora/nn/module.hpp"

namespace everlora {

template <class T>
class Embedding : public Module<T> {
 public:
  /// Table [num, dim] drawn from N(0, 1) (PyTorch's default); GPT re-initialises it.
  Embedding(Index num, Index dim, Rng& rng) {
    if (num < 1 || dim < 1)
      throw Error(ErrorKind::config, "Embedding: sizes must be >= 1, got " + std::to_string(num) +
                                         " x " + std::to_string(dim));
    this->register_parameter("weight", weight_, Tensor<T>::normal({num, dim}, rng, T(0), T(1)));
  }
  /// Adopts an existing table [num, dim] (sharing storage, keeping its requires_grad).
  explicit Embedding(Tensor<T> weight) {
    if (weight.rank() != 2 || weight.dim(0) < 1 || weight.dim(1) < 1)
      throw Error(ErrorKind::shape, "Embedding: table " + weight.shape().str() + " must be [num >= 1, dim >= 1]");
    const bool grad = weight.requires_grad();
    this->register_parameter("weight", weight_, std::move(weight));
    weight_.requires_grad_(grad);
  }
  const char* type_name() const override { return "Embedding"; }

  /// ids laid out as `ids_shape` → [ids_shape.., dim].
  Tensor<T> forward(const std::vector<std::int32_t>& ids, const Shape& ids_shape) const {
    return embedding(weight_, ids, ids_shape);
  }
  Index num_embeddings() const { return weight_.dim(0); }
  Index dim() const { return weight_.dim(1); }
  Tensor<T>& weight() { return weight_; }

 private:
  Tensor<T> weight_;
};

}  // namespace everlora

#endif  // EVERLORA_NN_EMBEDDING_HPP
