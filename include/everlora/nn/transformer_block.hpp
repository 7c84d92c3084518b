// everlora — a pre-LayerNorm transformer block (GPT-2):
//   x = x + drop(attn(ln1(x)));   x = x + drop(mlp(ln2(x)))
#ifndef EVERLORA_NN_TRANSFORMER_BLOCK_HPP
#define EVERLORA_NN_TRANSFORMER_BLOCK_HPP

#include <cstdint>
#include <memory>

#include "everlora/nn/attention.hpp"
#include "everlora/nn/dropout.hpp"
#include "everlora/nn/layer_norm.hpp"
#include "everlora/nn/mlp.hpp"

namespace everlora {

template <class T>
class TransformerBlock : public Module<T> {
 public:
  TransformerBlock(Index d_model, int n_heads, Index ffn_hidden, double dropout_p,
                   std::uint64_t dropout_seed, Rng& rng) {
    this->register_module("ln1", ln1_, std::make_shared<LayerNorm<T>>(d_model));
    this->register_module("attn", attn_, std::make_shared<CausalSelfAttention<T>>(d_model, n_heads, rng));
    this->register_module("ln2", ln2_, std::make_shared<LayerNorm<T>>(d_model));
    this->register_module("mlp", mlp_, std::make_shared<MLP<T>>(d_model, ffn_hidden, rng));
    this->register_module("drop", drop_, std::make_shared<Dropout<T>>(dropout_p, dropout_seed));
  }
  const char* type_name() const override { return "TransformerBlock"; }

  /// x [B, T, C] → [B, T, C]; `cache`/`layer` as in CausalSelfAttention::forward.
  Tensor<T> forward(const Tensor<T>& x, KvCache<T>* cache = nullptr, std::size_t layer = 0) {
    Tensor<T> h = x + drop_->forward(attn_->forward(ln1_->forward(x), cache, layer));
    return h + drop_->forward(mlp_->forward(ln2_->forward(h)));
  }
  CausalSelfAttention<T>& attn() { return *attn_; }
  MLP<T>& mlp() { return *mlp_; }

 private:
  std::shared_ptr<LayerNorm<T>> ln1_, ln2_;
  std::shared_ptr<CausalSelfAttention<T>> attn_;
  std::shared_ptr<MLP<T>> mlp_;
  std::shared_ptr<Dropout<T>> drop_;
};

}  // namespace everlora

#endif  // EVERLORA_NN_TRANSFORMER_BLOCK_HPP
