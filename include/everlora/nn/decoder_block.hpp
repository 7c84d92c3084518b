// everlora — the block of the decoder family, with the layers named as transformers names them,
// so that checkpoints load by name and LoRA targets and PEFT keys are the ones users know:
//   Llama, Mistral, Qwen2, Qwen3: input_layernorm, self_attn.{q,k,v,o}_proj (+ q_norm, k_norm in
//     Qwen3), post_attention_layernorm, mlp.{gate,up,down}_proj
//   GPT-2: ln_1, attn.{c_attn,c_proj}, ln_2, mlp.{c_fc,c_proj}
// Both are pre-norm residual blocks:  h = x + attn(norm₁(x));  out = h + mlp(norm₂(h)).
#ifndef EVERLORA_NN_DECODER_BLOCK_HPP
#define EVERLORA_NN_DECODER_BLOCK_HPP

#include <memory>
#include <tuple>
#include <utility>

#include "everlora/core/ops/activations.hpp"
#include "everlora/core/ops/attention.hpp"
#include "everlora/core/ops/rope.hpp"
#include "everlora/core/ops/shape_ops.hpp"
#include "everlora/nn/causal_lm.hpp"
#include "everlora/nn/decoder_config.hpp"
#include "everlora/nn/layer_norm.hpp"
#include "everlora/nn/linear.hpp"
#include "everlora/nn/rms_norm.hpp"

namespace everlora {

/// The cos and sin tables [T, head_dim/2] of one forward pass's positions (empty for GPT-2).
template <class T>
using RopeTables = std::pair<Tensor<T>, Tensor<T>>;

namespace detail {
/// A matrix of zeros for a decoder to fill (by DecoderLM's initialisation or a checkpoint, so
/// drawing values here would be wasted work): trainable float, or frozen bf16 (bf16_weights).
template <class T>
Tensor<T> zero_matrix(const Shape& shape, const DecoderConfig& c) {
  if constexpr (std::is_same_v<T, float>)
    if (c.bf16_weights) return Tensor<T>::zeros_bf16(shape);
  if (c.bf16_weights) throw Error(ErrorKind::config, "DecoderConfig: bf16_weights holds a float model's matrices, not a double one's");
  return Tensor<T>::zeros(shape).requires_grad_();
}
/// A Linear of zero_matrix weights and trainable zero biases.
template <class T>
std::shared_ptr<Linear<T>> zero_linear(Index in, Index out, bool bias, const DecoderConfig& c) {
  return std::make_shared<Linear<T>>(zero_matrix<T>({out, in}, c), bias ? Tensor<T>::zeros({out}).requires_grad_() : Tensor<T>());
}
}  // namespace detail

/// Self-attention: separate q/k/v/o projections with rotary positions (Llama family), or GPT-2's
/// fused c_attn and c_proj with no rotation.
template <class T>
class DecoderAttention : public Module<T> {
 public:
  explicit DecoderAttention(const DecoderConfig& c)
      : heads_(c.num_attention_heads), kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim) {
    const Index C = c.hidden_size, q_width = heads_ * head_dim_, kv_width = kv_heads_ * head_dim_;
    if (c.gpt2()) {
      this->register_module("c_attn", c_attn_, detail::zero_linear<T>(C, 3 * C, true, c));
      this->register_module("c_proj", o_proj_, detail::zero_linear<T>(C, C, true, c));
      return;
    }
    this->register_module("q_proj", q_proj_, detail::zero_linear<T>(C, q_width, c.qkv_bias, c));
    this->register_module("k_proj", k_proj_, detail::zero_linear<T>(C, kv_width, c.qkv_bias, c));
    this->register_module("v_proj", v_proj_, detail::zero_linear<T>(C, kv_width, c.qkv_bias, c));
    this->register_module("o_proj", o_proj_, detail::zero_linear<T>(q_width, C, c.o_bias, c));
    if (c.qk_norm) {
      this->register_module("q_norm", q_norm_, std::make_shared<RMSNorm<T>>(head_dim_, static_cast<T>(c.norm_eps)));
      this->register_module("k_norm", k_norm_, std::make_shared<RMSNorm<T>>(head_dim_, static_cast<T>(c.norm_eps)));
    }
  }
  const char* type_name() const override { return "DecoderAttention"; }

  /// x [B, T, C] → [B, T, C]. With a cache, x holds the new positions only; their (rotated) keys
  /// and values are appended to layer `layer` of the cache (the caller advances cache.length).
  Tensor<T> forward(const Tensor<T>& x, const RopeTables<T>& rope_tables, KvCache<T>* cache, std::size_t layer) {
    Tensor<T> q, k, v;
    if (c_attn_) {
      const Tensor<T> qkv = c_attn_->forward(x);
      const Index C = x.shape().last();
      q = slice(qkv, 2, 0, C);
      k = slice(qkv, 2, C, 2 * C);
      v = slice(qkv, 2, 2 * C, 3 * C);
    } else {
      q = q_proj_->forward(x);
      k = k_proj_->forward(x);
      v = v_proj_->forward(x);
      if (q_norm_) {  // Qwen3: RMSNorm over each head's values
        q = reshape(q_norm_->forward(reshape(q, {q.dim(0), q.dim(1), heads_, head_dim_})), q.shape());
        k = reshape(k_norm_->forward(reshape(k, {k.dim(0), k.dim(1), kv_heads_, head_dim_})), k.shape());
      }
      q = rope(q, heads_, rope_tables.first, rope_tables.second);
      k = rope(k, kv_heads_, rope_tables.first, rope_tables.second);
    }
    if (cache) std::tie(k, v) = cache->append(layer, k, v);
    return o_proj_->forward(causal_attention(q, k, v, heads_, kv_heads_));
  }

 private:
  int heads_, kv_heads_;
  Index head_dim_;
  std::shared_ptr<Linear<T>> q_proj_, k_proj_, v_proj_, o_proj_, c_attn_;
  std::shared_ptr<RMSNorm<T>> q_norm_, k_norm_;
};

/// Feed-forward: SwiGLU down(silu(gate(x)) ⊙ up(x)) (Shazeer 2020), or GPT-2's c_proj(gelu(c_fc(x))).
template <class T>
class DecoderMLP : public Module<T> {
 public:
  explicit DecoderMLP(const DecoderConfig& c) {
    const Index C = c.hidden_size, F = c.intermediate_size;
    if (c.gpt2()) {
      this->register_module("c_fc", up_, detail::zero_linear<T>(C, F, true, c));
      this->register_module("c_proj", down_, detail::zero_linear<T>(F, C, true, c));
      return;
    }
    this->register_module("gate_proj", gate_, detail::zero_linear<T>(C, F, c.mlp_bias, c));
    this->register_module("up_proj", up_, detail::zero_linear<T>(C, F, c.mlp_bias, c));
    this->register_module("down_proj", down_, detail::zero_linear<T>(F, C, c.mlp_bias, c));
  }
  const char* type_name() const override { return "DecoderMLP"; }
  Tensor<T> forward(const Tensor<T>& x) {
    if (!gate_) return down_->forward(gelu(up_->forward(x)));
    return down_->forward(swiglu(gate_->forward(x), up_->forward(x)));
  }

 private:
  std::shared_ptr<Linear<T>> gate_, up_, down_;
};

/// One pre-norm block: RMSNorm (LayerNorm for GPT-2) before attention and before the MLP.
template <class T>
class DecoderBlock : public Module<T> {
 public:
  explicit DecoderBlock(const DecoderConfig& c) {
    const bool gpt2 = c.gpt2();
    const T eps = static_cast<T>(c.norm_eps);
    if (gpt2)
      this->register_module("ln_1", layer_norm_in_, std::make_shared<LayerNorm<T>>(c.hidden_size, eps));
    else
      this->register_module("input_layernorm", rms_norm_in_, std::make_shared<RMSNorm<T>>(c.hidden_size, eps));
    this->register_module(gpt2 ? "attn" : "self_attn", attn_, std::make_shared<DecoderAttention<T>>(c));
    if (gpt2)
      this->register_module("ln_2", layer_norm_mid_, std::make_shared<LayerNorm<T>>(c.hidden_size, eps));
    else
      this->register_module("post_attention_layernorm", rms_norm_mid_, std::make_shared<RMSNorm<T>>(c.hidden_size, eps));
    this->register_module("mlp", mlp_, std::make_shared<DecoderMLP<T>>(c));
  }
  const char* type_name() const override { return "DecoderBlock"; }

  Tensor<T> forward(const Tensor<T>& x, const RopeTables<T>& rope_tables, KvCache<T>* cache, std::size_t layer) {
    const Tensor<T> h = x + attn_->forward(rms_norm_in_ ? rms_norm_in_->forward(x) : layer_norm_in_->forward(x),
                                           rope_tables, cache, layer);
    return h + mlp_->forward(rms_norm_mid_ ? rms_norm_mid_->forward(h) : layer_norm_mid_->forward(h));
  }

 private:
  std::shared_ptr<RMSNorm<T>> rms_norm_in_, rms_norm_mid_;
  std::shared_ptr<LayerNorm<T>> layer_norm_in_, layer_norm_mid_;
  std::shared_ptr<DecoderAttention<T>> attn_;
  std::shared_ptr<DecoderMLP<T>> mlp_;
};

}  // namespace everlora

#endif  // EVERLORA_NN_DECODER_BLOCK_HPP
