// everlora — CausalLM: what every decoder-only language model offers the trainer, the workloads
// and generation, whatever its family (the byte-level GPT, Llama, Qwen, Mistral, GPT-2).
//   Tensor<float> logits = model.forward(ids, batch, length);          // [B, T, V]
//   KvCache<float> cache;  model.forward(prompt, 1, n, &cache);         // then one id at a time
//   model.forward_at(ids, batch, length, rows);                         // [rows, V]: the head at those positions only
#ifndef EVERLORA_NN_CAUSAL_LM_HPP
#define EVERLORA_NN_CAUSAL_LM_HPP

#include <cstdint>
#include <utility>
#include <vector>

#include "everlora/core/ops/embedding.hpp"
#include "everlora/core/ops/shape_ops.hpp"
#include "everlora/nn/module.hpp"

namespace everlora {

/// Keys and values of the positions decoded so far, one pair per layer ([B, length, kv width]).
template <class T>
struct KvCache {
  std::vector<Tensor<T>> keys, values;
  Index length = 0;  // positions already in the cache

  explicit KvCache(std::size_t layers = 0) : keys(layers), values(layers) {}

  /// Appends the new positions' keys and values ([B, T, width] each) to layer `layer` and returns
  /// the layer's whole keys and values (the caller advances `length` once every layer has run).
  std::pair<Tensor<T>, Tensor<T>> append(std::size_t layer, const Tensor<T>& k, const Tensor<T>& v) {
    Tensor<T>& ck = keys.at(layer);
    Tensor<T>& cv = values.at(layer);
    ck = ck.defined() ? concat<T>({ck, k}, 1) : k;
    cv = cv.defined() ? concat<T>({cv, v}, 1) : v;
    return {ck, cv};
  }
  void clear() {
    for (auto& k : keys) k = Tensor<T>();
    for (auto& v : values) v = Tensor<T>();
    length = 0;
  }
};

template <class T>
class CausalLM : public Module<T> {
 public:
  /// ids (B·T values, row-major [B, T]) → logits [B, T, V]. With a cache, ids are the next T
  /// positions after cache->length, which advances by T. `block_outputs`, if given, receives the
  /// hidden state after each block ([B, T, C] each).
  Tensor<T> forward(const std::vector<std::int32_t>& ids, Index batch, Index length, KvCache<T>* cache = nullptr,
                    std::vector<Tensor<T>>* block_outputs = nullptr) {
    return head(hidden_states(ids, batch, length, cache, block_outputs));
  }
  /// The logits at the positions `rows` only (indices into the B·T positions, row-major) → [rows, V].
  /// A loss or a label's likelihood reads a few positions of each sequence (the answer's tokens);
  /// the head, a third of a small model's work and [B·T, V] floats of memory, runs on those alone.
  Tensor<T> forward_at(const std::vector<std::int32_t>& ids, Index batch, Index length, const std::vector<std::int32_t>& rows,
                       KvCache<T>* cache = nullptr, std::vector<Tensor<T>>* block_outputs = nullptr) {
    const Tensor<T> h = hidden_states(ids, batch, length, cache, block_outputs);
    const Index width = h.shape().last();
    return head(embedding(reshape(h, {batch * length, width}), rows, {static_cast<Index>(rows.size())}));
  }
  /// The hidden states after the final norm, [B, T, C]: what the head turns into logits.
  virtual Tensor<T> hidden_states(const std::vector<std::int32_t>& ids, Index batch, Index length,
                                  KvCache<T>* cache = nullptr, std::vector<Tensor<T>>* block_outputs = nullptr) = 0;
  /// The LM head: hidden states [..., C] → logits [..., V].
  virtual Tensor<T> head(const Tensor<T>& hidden) = 0;
  /// The longest sequence the model takes (positions 0 … context−1).
  virtual Index context() const = 0;
  virtual Index vocab_size() const = 0;
  /// The number of transformer blocks (the length of forward's block_outputs).
  virtual Index num_blocks() const = 0;
  /// The token embedding table [V, C].
  virtual Tensor<T>& token_embedding() = 0;
};

}  // namespace everlora

#endif  // EVERLORA_NN_CAUSAL_LM_HPP
