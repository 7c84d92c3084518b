// everlora — CausalSelfAttention with separate q, k, v, o projections (so adapters can target each
// by name, as PEFT users expect) and an optional KV cache for decoding.
//   x [B, T, C] → q, k, v = x·Wqᵀ + bq, …;  y = causal_attention(q, k, v, H);  out = y·Woᵀ + bo
#ifndef EVERLORA_NN_ATTENTION_HPP
#define EVERLORA_NN_ATTENTION_HPP

#include <memory>
#include <tuple>
#include <vector>

#include "everlora/core/ops/attention.hpp"
#include "everlora/core/ops/shape_ops.hpp"
#include "everlora/nn/causal_lm.hpp"
#include "everlora/nn/linear.hpp"

namespace everlora {

template <class T>
class CausalSelfAttention : public Module<T> {
 public:
  CausalSelfAttention(Index d_model, int n_heads, Rng& rng) : n_heads_(n_heads) {
    if (n_heads < 1 || d_model % n_heads != 0)
      throw Error(ErrorKind::config, "CausalSelfAttention: " + std::to_string(n_heads) +
                                         " heads do not divide d_model = " + std::to_string(d_model));
    this->register_module("q", q_, std::make_shared<Linear<T>>(d_model, d_model, true, rng));
    this->register_module("k", k_, std::make_shared<Linear<T>>(d_model, d_model, true, rng));
    this->register_module("v", v_, std::make_shared<Linear<T>>(d_model, d_model, true, rng));
    this->register_module("o", o_, std::make_shared<Linear<T>>(d_model, d_model, true, rng));
  }
  const char* type_name() const override { return "CausalSelfAttention"; }

  /// x [B, T, C] → [B, T, C]. With a cache, x holds the new positions only; their keys and
  /// values are appended to layer `layer` of the cache (the caller advances cache.length).
  Tensor<T> forward(const Tensor<T>& x, KvCache<T>* cache = nullptr, std::size_t layer = 0) {
    Tensor<T> q = q_->forward(x), k = k_->forward(x), v = v_->forward(x);
    if (cache) std::tie(k, v) = cache->append(layer, k, v);
    return o_->forward(causal_attention(q, k, v, n_heads_));
  }

  int n_heads() const { return n_heads_; }
  Linear<T>& q() { return *q_; }
  Linear<T>& k() { return *k_; }
  Linear<T>& v() { return *v_; }
  Linear<T>& o() { return *o_; }

 private:
  int n_heads_;
  std::shared_ptr<Linear<T>> q_, k_, v_, o_;
};

}  // namespace everlora

#endif  // EVERLORA_NN_ATTENTION_HPP
