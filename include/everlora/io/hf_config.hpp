// everlora — Hugging Face config.json ⇄ DecoderConfig, for the model types llama, mistral, qwen2,
// qwen3 and gpt2. Reading is strict: a value that would change the model's maths in a way
// DecoderLM does not implement (sliding windows, other rope kinds, MoE, partial rotary…) is
// Error(config) naming the file, the key, the value and what is supported; absent keys take the
// defaults of transformers' config classes, except the shape keys, which must be present.
//   DecoderConfig c = decoder_config_from_json(read_file(dir + "/config.json"), dir + "/config.json");
#ifndef EVERLORA_IO_HF_CONFIG_HPP
#define EVERLORA_IO_HF_CONFIG_HPP

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "everlora/io/detail/bounded_json.hpp"
#include "everlora/nn/decoder_config.hpp"

namespace everlora {

namespace detail {

/// Typed look-ups into one config.json, each error naming the file and the key.
class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& root, std::string source) : root_(root), source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw Error(ErrorKind::config, source_ + ": '" + key + "' " + why);
  }
  /// Present with a value other than null.
  bool has(const std::string& key) const { return root_.contains(key) && !root_.at(key).is_null(); }
  /// Present, null included.
  bool present(const std::string& key) const { return root_.contains(key); }
  const nlohmann::json& at(const std::string& key) const { return root_.at(key); }

  Index integer(const std::string& key) const {
    if (!has(key)) fail(key, "is missing (a required shape key)");
    return integer_value(key, root_.at(key));
  }
  Index integer(const std::string& key, Index fallback) const { return has(key) ? integer_value(key, root_.at(key)) : fallback; }
  /// A count of layers or heads: a whole number up to 65,536 (they are held in an int).
  int count(const std::string& key) const { return count_value(key, integer(key)); }
  int count(const std::string& key, int fallback) const { return has(key) ? count_value(key, integer(key)) : fallback; }
  double number(const std::string& key, double fallback) const { return has(key) ? number_value(key, root_.at(key)) : fallback; }
  bool boolean(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!root_.at(key).is_boolean()) fail(key, "must be true or false, not " + root_.at(key).dump());
    return root_.at(key).get<bool>();
  }
  std::string string(const std::string& key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!root_.at(key).is_string()) fail(key, "must be a string, not " + root_.at(key).dump());
    return root_.at(key).get<std::string>();
  }
  Index integer_value(const std::string& key, const nlohmann::json& v) const {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > (std::int64_t{1} << 40))
      fail(key, "must be a non-negative whole number, not " + v.dump());
    return v.get<Index>();
  }
  int count_value(const std::string& key, Index v) const {
    if (v > 65536) fail(key, "= " + std::to_string(v) + " is more than the 65536 everlora supports");
    return static_cast<int>(v);
  }
  double number_value(const std::string& key, const nlohmann::json& v) const {
    if (!v.is_number()) fail(key, "must be a number, not " + v.dump());
    return v.get<double>();
  }
  const std::string& source() const { return source_; }

 private:
  const nlohmann::json& root_;
  std::string source_;
};

inline RopeScaling read_rope_scaling(const ConfigReader& r) {
  RopeScaling s;
  if (!r.has("rope_scaling")) return s;
  const nlohmann::json& j = r.at("rope_scaling");
  if (!j.is_object()) r.fail("rope_scaling", "must be an object or null, not " + j.dump());
  const ConfigReader sub(j, r.source());
  const std::string type = sub.has("rope_type") ? sub.string("rope_type", "") : sub.string("type", "default");
  if (type == "default") return s;
  if (type != "linear" && type != "llama3")
    r.fail("rope_scaling.rope_type", "is '" + type + "'; everlora supports default, linear and llama3");
  s.kind = type == "linear" ? RopeScaling::Kind::linear : RopeScaling::Kind::llama3;
  if (!sub.has("factor")) r.fail("rope_scaling.factor", "is missing (needed by rope type '" + type + "')");
  s.factor = sub.number("factor", 1.0);
  if (s.kind == RopeScaling::Kind::llama3) {
    for (const char* key : {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
      if (!sub.has(key)) r.fail(std::string("rope_scaling.") + key, "is missing (needed by rope type 'llama3')");
    s.low_freq_factor = sub.number("low_freq_factor", 1.0);
    s.high_freq_factor = sub.number("high_freq_factor", 4.0);
    s.original_max_position_embeddings = static_cast<double>(sub.integer("original_max_position_embeddings"));
  }
  return s;
}

/// Keys whose presence (with a value that matters) means a model DecoderLM does not implement.
inline void refuse_unsupported(const ConfigReader& r, DecoderFamily family) {
  for (const char* key : {"num_experts", "num_local_experts", "n_routed_experts"})
    if (r.has(key) && r.integer(key, 0) > 0)
      r.fail(key, "= " + r.at(key).dump() + ": mixture-of-experts models are not supported");
  if (r.number("partial_rotary_factor", 1.0) != 1.0)
    r.fail("partial_rotary_factor", "= " + r.at("partial_rotary_factor").dump() + ": only 1.0 (rotary on the whole head) is supported");
  if (r.integer("pretraining_tp", 1) != 1)
    r.fail("pretraining_tp", "= " + r.at("pretraining_tp").dump() + ": only 1 is supported");
  if (family == DecoderFamily::qwen2 || family == DecoderFamily::qwen3) {
    if (r.boolean("use_sliding_window", false))
      r.fail("use_sliding_window", "is true: sliding-window attention is not supported");
  } else if (family == DecoderFamily::mistral) {
    // transformers' MistralConfig defaults sliding_window to 4096 when the key is absent.
    const bool absent = !r.present("sliding_window");
    const Index window = absent ? 4096 : (r.has("sliding_window") ? r.integer("sliding_window", 0) : 0);
    if (window > 0 && window < r.integer("max_position_embeddings", 4096 * 32))
      r.fail("sliding_window", std::string(absent ? "is absent (transformers' default 4096)" : "= " + std::to_string(window)) +
                                   ": sliding-window attention is not supported; only null (or a window no shorter than "
                                   "max_position_embeddings) is");
  }
  if (family != DecoderFamily::gpt2) {
    const std::string act = r.string("hidden_act", "silu");
    if (act != "silu") r.fail("hidden_act", "is '" + act + "'; only silu (SwiGLU) is supported");
  }
}

}  // namespace detail

/// Parses config.json (`text`; `source` names the file in errors) into a DecoderConfig.
inline DecoderConfig decoder_config_from_json(std::string_view text, const std::string& source) {
  const nlohmann::json root = detail::parse_json_bounded(text, source);
  if (!root.is_object()) throw Error(ErrorKind::config, source + ": config.json must be a JSON object");
  const detail::ConfigReader r(root, source);
  const std::string type = r.string("model_type", "");
  DecoderConfig c;
  if (type == "llama") c.family = DecoderFamily::llama;
  else if (type == "mistral") c.family = DecoderFamily::mistral;
  else if (type == "qwen2") c.family = DecoderFamily::qwen2;
  else if (type == "qwen3") c.family = DecoderFamily::qwen3;
  else if (type == "gpt2") c.family = DecoderFamily::gpt2;
  else
    r.fail("model_type", (type.empty() ? std::string("is missing") : "is '" + type + "'") +
                             "; everlora supports llama, mistral, qwen2, qwen3 and gpt2");
  detail::refuse_unsupported(r, c.family);
  c.vocab_size = r.integer("vocab_size");
  c.initializer_range = r.number("initializer_range", 0.02);
  if (c.gpt2()) {
    c.hidden_size = r.integer("n_embd");
    c.num_hidden_layers = r.count("n_layer");
    c.num_attention_heads = c.num_key_value_heads = r.count("n_head");
    c.intermediate_size = r.integer("n_inner", 4 * c.hidden_size);
    c.max_position_embeddings = r.integer("n_positions");
    c.norm_eps = r.number("layer_norm_epsilon", 1e-5);
    c.head_dim = c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0;
    c.qkv_bias = c.o_bias = c.mlp_bias = true;
    c.tie_word_embeddings = r.boolean("tie_word_embeddings", true);
    const std::string act = r.string("activation_function", "gelu_new");
    if (act != "gelu_new" && act != "gelu_pytorch_tanh")
      r.fail("activation_function", "is '" + act + "'; only gelu_new (GELU, tanh form) is supported");
    if (r.boolean("scale_attn_by_inverse_layer_idx", false))
      r.fail("scale_attn_by_inverse_layer_idx", "is true; only the plain 1/sqrt(head_dim) scale is supported");
    if (!r.boolean("scale_attn_weights", true)) r.fail("scale_attn_weights", "is false; only true is supported");
    if (r.boolean("add_cross_attention", false)) r.fail("add_cross_attention", "is true; decoder-only models only");
  } else {
    c.hidden_size = r.integer("hidden_size");
    c.intermediate_size = r.integer("intermediate_size");
    c.num_hidden_layers = r.count("num_hidden_layers");
    c.num_attention_heads = r.count("num_attention_heads");
    c.num_key_value_heads = r.count("num_key_value_heads", c.num_attention_heads);
    const Index default_head = c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0;
    c.head_dim = r.integer("head_dim", default_head);  // Qwen3 and Mistral-Nemo set their own
    c.max_position_embeddings = r.integer("max_position_embeddings", c.family == DecoderFamily::llama ? 2048 : 32768);
    c.norm_eps = r.number("rms_norm_eps", 1e-6);
    c.rope_theta = r.number("rope_theta", 10000.0);
    c.rope_scaling = detail::read_rope_scaling(r);
    c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
    const bool attention_bias = r.boolean("attention_bias", false);
    c.qkv_bias = c.family == DecoderFamily::qwen2 ? true : attention_bias;
    c.o_bias = c.family == DecoderFamily::qwen2 ? false : attention_bias;
    c.mlp_bias = r.boolean("mlp_bias", false);
    c.qk_norm = c.family == DecoderFamily::qwen3;
  }
  // DecoderLM<float> takes the epsilon in float: one that float rounds to 0 (or to infinity) would
  // pass validate() and make every forward pass throw.
  if (!(c.norm_eps >= std::numeric_limits<float>::min() && c.norm_eps <= std::numeric_limits<float>::max())) {
    const char* key = c.gpt2() ? "layer_norm_epsilon" : "rms_norm_eps";
    r.fail(key, "= " + r.at(key).dump() + ": must be a positive number float can hold (1.18e-38 to 3.4e38)");
  }
  c.torch_dtype = r.string("torch_dtype", "float32");
  c.source_json = std::string(text);
  try {
    c.validate();
  } catch (const Error& e) {
    throw Error(ErrorKind::config, source + ": " + e.message());
  }
  return c;
}

/// config.json for `c`: the one it was read from with torch_dtype set to `torch_dtype`, or, for a
/// config built in code, the keys transformers' config class of its family reads.
inline std::string decoder_config_to_json(const DecoderConfig& c, const std::string& torch_dtype) {
  nlohmann::json j = c.source_json.empty() ? nlohmann::json::object()
                                           : detail::parse_json_bounded(c.source_json, "DecoderConfig::source_json");
  if (c.source_json.empty()) {
    j["model_type"] = to_string(c.family);
    j["vocab_size"] = c.vocab_size;
    j["tie_word_embeddings"] = c.tie_word_embeddings;
    j["initializer_range"] = c.initializer_range;
    if (c.gpt2()) {
      j["architectures"] = {"GPT2LMHeadModel"};
      j.update({{"n_embd", c.hidden_size}, {"n_layer", c.num_hidden_layers}, {"n_head", c.num_attention_heads},
                {"n_inner", c.intermediate_size}, {"n_positions", c.max_position_embeddings},
                {"layer_norm_epsilon", c.norm_eps}, {"activation_function", "gelu_new"}});
    } else {
      static const char* const kArchitectures[] = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"};
      j["architectures"] = {kArchitectures[static_cast<int>(c.family)]};
      j.update({{"hidden_size", c.hidden_size}, {"intermediate_size", c.intermediate_size},
                {"num_hidden_layers", c.num_hidden_layers}, {"num_attention_heads", c.num_attention_heads},
                {"num_key_value_heads", c.num_key_value_heads}, {"head_dim", c.head_dim},
                {"max_position_embeddings", c.max_position_embeddings}, {"rms_norm_eps", c.norm_eps},
                {"rope_theta", c.rope_theta}, {"hidden_act", "silu"}, {"mlp_bias", c.mlp_bias}});
      if (c.family != DecoderFamily::qwen2) j["attention_bias"] = c.qkv_bias;
      if (c.family == DecoderFamily::mistral) j["sliding_window"] = nullptr;
      const RopeScaling& s = c.rope_scaling;
      if (s.kind == RopeScaling::Kind::linear) j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", s.factor}};
      if (s.kind == RopeScaling::Kind::llama3)
        j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", s.factor}, {"low_freq_factor", s.low_freq_factor},
                             {"high_freq_factor", s.high_freq_factor},
                             {"original_max_position_embeddings", static_cast<Index>(s.original_max_position_embeddings)}};
    }
  }
  j["torch_dtype"] = torch_dtype;
  return j.dump(2) + "\n";
}

}  // namespace everlora

#endif  // EVERLORA_IO_HF_CONFIG_HPP
