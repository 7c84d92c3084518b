// everlora — SharedAttentionRouter: SAPT's shared attentive selection (arXiv 2401.08295;
// METHODS.md "SAPT"). One query per example from its prompt, scored against one key per task:
//   e = maxpool_prompt(token embeddings)                      [B, d]  (padding and answer masked;
//                                                                      mean pooling as an option)
//   q = LayerNorm(W_up · SiLU(W_down · e))                    [B, d]  (d → bottleneck → d, no bias)
//   w = softmax(q·Kᵀ / √d)                                    [B, t]  (K: one key per task)
// and every adapted layer mixes its experts with w (RoutedCombiner). With one key, w ≡ 1: the
// model is plain LoRA. New keys start U(−1, 1); add_key() freezes the older ones.
#ifndef EVERLORA_ADAPTERS_COMBINERS_SHARED_ATTENTION_ROUTER_HPP
#define EVERLORA_ADAPTERS_COMBINERS_SHARED_ATTENTION_ROUTER_HPP

#include <cmath>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "everlora/adapters/combiners/example_router.hpp"
#include "everlora/core/ops/activations.hpp"
#include "everlora/core/ops/elementwise.hpp"
#include "everlora/core/ops/matmul.hpp"
#include "everlora/core/ops/pooling.hpp"
#include "everlora/core/ops/shape_ops.hpp"
#include "everlora/core/ops/softmax.hpp"
#include "everlora/nn/layer_norm.hpp"
#include "everlora/nn/linear.hpp"

namespace everlora {

template <class T>
class SharedAttentionRouter : public ExampleRouter<T> {
 public:
  /// A router over `width`-wide routing inputs with a `bottleneck`-wide query net (SAPT: 100),
  /// summarising each prompt by `pool` (SAPT: max).
  SharedAttentionRouter(Index width, Index bottleneck, Rng& rng, SequencePool pool = SequencePool::max) : pool_(pool) {
    if (width < 1 || bottleneck < 1)
      throw Error(ErrorKind::config, "SharedAttentionRouter: width " + std::to_string(width) + " and bottleneck " +
                                         std::to_string(bottleneck) + " must be at least 1");
    this->register_module("down", down_, std::make_shared<Linear<T>>(width, bottleneck, false, rng));
    this->register_module("up", up_, std::make_shared<Linear<T>>(bottleneck, width, false, rng));
    this->register_module("norm", norm_, std::make_shared<LayerNorm<T>>(width));
    this->register_module("standardize", standardize_, std::make_shared<Standardizer<T>>(width));
  }
  const char* type_name() const override { return "SharedAttentionRouter"; }
  Index width() const { return down_->in_features(); }
  /// The per-feature standardisation of e before the query net (the identity unless fitted).
  Standardizer<T>& standardizer() { return *standardize_; }
  Index num_experts() const override { return static_cast<Index>(keys_.size()); }

  /// Adds the key of a new task (parameter "key<n>", U(−1, 1)) and freezes every older key.
  void add_key(Rng& rng) {
    for (Tensor<T>& key : keys_) key.requires_grad_(false);
    keys_.emplace_back();
    this->register_parameter("key" + std::to_string(keys_.size()), keys_.back(), Tensor<T>::uniform({1, width()}, rng, T(-1), T(1)));
  }
  Tensor<T>& key(Index task) { return keys_.at(static_cast<std::size_t>(task)); }

  /// e: the masked max (or mean) over each example's prompt [B, d].
  Tensor<T> summarize(const RoutingInput<T>& input) const {
    if (input.tokens.rank() != 3 || input.tokens.dim(2) != width())
      throw Error(ErrorKind::shape, "SharedAttentionRouter: routing input " + input.tokens.shape().str() + " is not [B, S, " +
                                        std::to_string(width()) + "]");
    return pool_ == SequencePool::max ? max_pool(input.tokens, input.mask) : mean_pool(input.tokens, input.mask);
  }
  /// q·Kᵀ/√d [B, t] of summaries e [B, d] (the logits the attentive reflection regularises).
  Tensor<T> scores(const Tensor<T>& summary) {
    if (keys_.empty()) throw Error(ErrorKind::config, "SharedAttentionRouter: no task key yet (add_key first)");
    const Tensor<T> q = norm_->forward(up_->forward(silu(down_->forward(standardize_->apply(summary)))));
    const Tensor<T> keys = keys_.size() == 1 ? keys_.front() : concat(std::vector<Tensor<T>>(keys_.begin(), keys_.end()), 0);
    return matmul_nt(q, keys) * (T(1) / std::sqrt(static_cast<T>(width())));
  }
  Tensor<T> compute(const RoutingInput<T>& input) override { return softmax(scores(summarize(input))); }

 private:
  SequencePool pool_;
  std::shared_ptr<Linear<T>> down_, up_;
  std::shared_ptr<LayerNorm<T>> norm_;
  std::shared_ptr<Standardizer<T>> standardize_;
  std::deque<Tensor<T>> keys_;  // a deque: registered parameter slots must not move
};

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_COMBINERS_SHARED_ATTENTION_ROUTER_HPP
