// libFuzzer target: the Hugging Face config.json reader (decoder_config_from_json, io/hf_config.hpp)
// on arbitrary text. everlora::Error is the expected answer to a bad config; anything else is a
// bug. A config that parses must also: write back (decoder_config_to_json, both from the text it
// was read from and, with source_json cleared, from its fields alone) to JSON that parses to an
// equal config; and, when its model is small (at most ~1e6 parameters), build a DecoderLM<float>
// and run one forward pass on the id 0.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "everlora/io/hf_config.hpp"
#include "everlora/nn/decoder.hpp"

namespace {

[[noreturn]] void bug(const std::string& what) {
  std::fprintf(stderr, "fuzz_hf_config: %s\n", what.c_str());
  std::abort();
}

/// Every field of the model (not source_json, seed or torch_dtype) is the same in a and b.
bool same_model(const everlora::DecoderConfig& a, const everlora::DecoderConfig& b) {
  const everlora::RopeScaling &s = a.rope_scaling, &t = b.rope_scaling;
  return a.family == b.family && a.vocab_size == b.vocab_size && a.hidden_size == b.hidden_size &&
         a.intermediate_size == b.intermediate_size && a.num_hidden_layers == b.num_hidden_layers &&
         a.num_attention_heads == b.num_attention_heads && a.num_key_value_heads == b.num_key_value_heads &&
         a.head_dim == b.head_dim && a.max_position_embeddings == b.max_position_embeddings && a.norm_eps == b.norm_eps &&
         a.rope_theta == b.rope_theta && s.kind == t.kind && s.factor == t.factor && s.low_freq_factor == t.low_freq_factor &&
         s.high_freq_factor == t.high_freq_factor && s.original_max_position_embeddings == t.original_max_position_embeddings &&
         a.qkv_bias == b.qkv_bias && a.o_bias == b.o_bias && a.mlp_bias == b.mlp_bias && a.qk_norm == b.qk_norm &&
         a.tie_word_embeddings == b.tie_word_embeddings && a.initializer_range == b.initializer_range;
}

/// config → JSON → config, which must not throw and must give the same model with torch_dtype float32.
void check_round_trip(const everlora::DecoderConfig& c, const char* how) {
  everlora::DecoderConfig again;
  try {
    again = everlora::decoder_config_from_json(everlora::decoder_config_to_json(c, "float32"), "fuzz/written.json");
  } catch (const everlora::Error& e) {
    bug(std::string("the config written back ") + how + " does not parse: " + e.what());
  }
  if (!same_model(c, again) || again.torch_dtype != "float32") bug(std::string("the config written back ") + how + " differs");
}

/// The parameter count of c's model, in double so that no product overflows.
double parameter_count(const everlora::DecoderConfig& c) {
  const double v = static_cast<double>(c.vocab_size), h = static_cast<double>(c.hidden_size);
  const double q = static_cast<double>(c.num_attention_heads) * static_cast<double>(c.head_dim);
  const double kv = static_cast<double>(c.num_key_value_heads) * static_cast<double>(c.head_dim);
  const double mlp = static_cast<double>(c.intermediate_size) * h * (c.gpt2() ? 2 : 3);
  const double block = h * (q + 2 * kv) + q * h + mlp + 4 * (q + kv + h) + 2 * static_cast<double>(c.head_dim);
  const double positions = c.gpt2() ? static_cast<double>(c.max_position_embeddings) * h : 0;
  return v * h * (c.tie_word_embeddings ? 1 : 2) + positions + static_cast<double>(c.num_hidden_layers) * block;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  everlora::DecoderConfig config;
  try {
    config = everlora::decoder_config_from_json(text, "fuzz/config.json");
  } catch (const everlora::Error&) {
    return 0;
  }
  check_round_trip(config, "from its source");
  everlora::DecoderConfig from_fields = config;
  from_fields.source_json.clear();
  check_round_trip(from_fields, "from its fields");

  if (parameter_count(config) <= 1e6 && config.num_hidden_layers <= 64) {
    everlora::NoGrad no_graph;
    everlora::DecoderLM<float> model(config);
    const everlora::Tensor<float> logits = model.forward({0}, 1, 1);
    if (logits.numel() != config.vocab_size) bug("one position gave " + std::to_string(logits.numel()) + " logits");
  }
  return 0;
}
