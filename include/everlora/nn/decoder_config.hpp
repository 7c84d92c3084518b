// everlora — DecoderConfig: the shape of one model of the decoder family (Llama, Qwen2, Qwen3,
// Mistral, GPT-2), as Hugging Face's config.json describes it. io/hf_config.hpp reads and writes
// config.json; DecoderLM (nn/decoder.hpp) builds the model from it.
#ifndef EVERLORA_NN_DECODER_CONFIG_HPP
#define EVERLORA_NN_DECODER_CONFIG_HPP

#include <cstdint>
#include <string>
#include <vector>

#include "everlora/core/error.hpp"
#include "everlora/core/ops/rope.hpp"

namespace everlora {

/// The families the decoder covers. Llama, Mistral, Qwen2 and Qwen3 share one block (RMSNorm,
/// rotary positions, SwiGLU MLP, grouped-query attention); GPT-2 has learned positions,
/// LayerNorm, a GELU MLP and a fused q/k/v projection.
enum class DecoderFamily { llama, mistral, qwen2, qwen3, gpt2 };

inline const char* to_string(DecoderFamily f) {
  switch (f) {
    case DecoderFamily::llama: return "llama";
    case DecoderFamily::mistral: return "mistral";
    case DecoderFamily::qwen2: return "qwen2";
    case DecoderFamily::qwen3: return "qwen3";
    case DecoderFamily::gpt2: return "gpt2";
  }
  return "unknown";
}

struct DecoderConfig {
  DecoderFamily family = DecoderFamily::llama;
  Index vocab_size = 0;
  Index hidden_size = 0;
  Index intermediate_size = 0;  ///< MLP width (GPT-2's n_inner, 4·hidden when unset)
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;  ///< < heads: grouped-query attention
  Index head_dim = 0;           ///< hidden/heads unless config.json says otherwise (Qwen3)
  Index max_position_embeddings = 0;
  double norm_eps = 1e-6;       ///< rms_norm_eps, or GPT-2's layer_norm_epsilon
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool qkv_bias = false;        ///< bias on q, k, v (Qwen2; attention_bias)
  bool o_bias = false;          ///< bias on the output projection (attention_bias)
  bool mlp_bias = false;
  bool qk_norm = false;         ///< RMSNorm over each head of q and k before RoPE (Qwen3)
  bool tie_word_embeddings = false;
  double initializer_range = 0.02;
  std::uint64_t seed = 0;       ///< random initialisation (a model built without weights)
  std::string torch_dtype = "float32";  ///< the dtype its checkpoint stores (config.json's torch_dtype)
  std::string source_json;      ///< the config.json it was read from, kept so saving writes back every key
  /// Hold the matrices (linear weights, embedding tables) in bfloat16, frozen: half the memory
  /// of a float base that LoRA leaves untouched. Norms and biases stay float. Not in config.json.
  bool bf16_weights = false;

  bool gpt2() const { return family == DecoderFamily::gpt2; }

  /// The names of every projection of attention and MLP (PEFT's "all-linear" LoRA targets).
  std::vector<std::string> projection_names() const {
    if (gpt2()) return {"c_attn", "c_proj", "c_fc"};
    return {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  }

  /// Throws Error(config) naming the first field that is out of range or inconsistent.
  void validate() const {
    auto need = [](bool ok, const std::string& what) {
      if (!ok) throw Error(ErrorKind::config, "DecoderConfig: " + what);
    };
    need(vocab_size >= 2, "vocab_size must be >= 2, got " + std::to_string(vocab_size));
    need(hidden_size >= 1, "hidden_size must be >= 1, got " + std::to_string(hidden_size));
    need(intermediate_size >= 1, "intermediate_size must be >= 1, got " + std::to_string(intermediate_size));
    need(num_hidden_layers >= 1, "num_hidden_layers must be >= 1, got " + std::to_string(num_hidden_layers));
    need(num_attention_heads >= 1, "num_attention_heads must be >= 1, got " + std::to_string(num_attention_heads));
    need(num_key_value_heads >= 1 && num_attention_heads % num_key_value_heads == 0,
         "num_key_value_heads = " + std::to_string(num_key_value_heads) + " must divide num_attention_heads = " +
             std::to_string(num_attention_heads));
    need(head_dim >= 1 && (gpt2() || head_dim % 2 == 0), "head_dim must be a positive even number, got " + std::to_string(head_dim));
    need(!gpt2() || head_dim * num_attention_heads == hidden_size,
         "GPT-2's heads (" + std::to_string(num_attention_heads) + ") must divide n_embd = " + std::to_string(hidden_size));
    need(!gpt2() || num_key_value_heads == num_attention_heads, "GPT-2 has no grouped-query attention");
    need(max_position_embeddings >= 1, "max_position_embeddings must be >= 1, got " + std::to_string(max_position_embeddings));
    need(norm_eps > 0, "the norm's epsilon must be > 0");
    need(rope_theta > 0, "rope_theta must be > 0");
    need(rope_scaling.factor >= 1.0 || rope_scaling.kind == RopeScaling::Kind::none,
         "rope_scaling.factor must be >= 1, got " + std::to_string(rope_scaling.factor));
    need(rope_scaling.kind != RopeScaling::Kind::llama3 ||
             rope_scaling.high_freq_factor > rope_scaling.low_freq_factor,
         "rope_scaling.high_freq_factor must exceed low_freq_factor");
  }
};

}  // namespace everlora

#endif  // EVERLORA_NN_DECODER_CONFIG_HPP
