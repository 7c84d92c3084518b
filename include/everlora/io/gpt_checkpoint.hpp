// everlora — a GPT checkpoint in one safetensors file: the weights, plus the GPTConfig in the
// file's metadata (key "everlora.gpt_config", JSON), so a model can be rebuilt from the file alone.
//   save_gpt(model, "base.safetensors");
//   std::unique_ptr<GPT<float>> model = load_gpt<float>("base.safetensors");
#ifndef EVERLORA_IO_GPT_CHECKPOINT_HPP
#define EVERLORA_IO_GPT_CHECKPOINT_HPP

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "everlora/io/safetensors.hpp"
#include "everlora/nn/gpt.hpp"

namespace everlora {

inline constexpr const char* kGptConfigKey = "everlora.gpt_config";

inline std::string gpt_config_to_json(const GPTConfig& c) {
  return nlohmann::json{{"vocab_size", c.vocab_size}, {"context", c.context},
                        {"d_model", c.d_model},       {"n_layers", c.n_layers},
                        {"n_heads", c.n_heads},       {"ffn_mult", c.ffn_mult},
                        {"dropout", c.dropout},       {"seed", c.seed}}
      .dump();
}

/// Parses the JSON written by gpt_config_to_json; `source` names the file in errors.
inline GPTConfig gpt_config_from_json(const std::string& text, const std::string& source) {
  GPTConfig c;
  try {
    const auto j = nlohmann::json::parse(text);
    c.vocab_size = j.at("vocab_size").get<Index>();
    c.context = j.at("context").get<Index>();
    c.d_model = j.at("d_model").get<Index>();
    c.n_layers = j.at("n_layers").get<int>();
    c.n_heads = j.at("n_heads").get<int>();
    c.ffn_mult = j.at("ffn_mult").get<Index>();
    c.dropout = j.at("dropout").get<double>();
    c.seed = j.at("seed").get<std::uint64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::format, source + ": bad '" + kGptConfigKey + "' metadata: " + e.what());
  }
  c.validate();
  return c;
}

/// Writes the model's weights and config to `path` atomically; `metadata` is added to the file's.
template <class T>
void save_gpt(const GPT<T>& model, const std::string& path, SafetensorsMetadata metadata = {}) {
  metadata[kGptConfigKey] = gpt_config_to_json(model.config());
  save_module(model, path, metadata);
}

/// Rebuilds a GPT from a file written by save_gpt (strict: every weight present, shapes match,
/// values finite).
template <class T>
std::unique_ptr<GPT<T>> load_gpt(const std::string& path) {
  SafetensorsFile<T> file = load_safetensors<T>(path);
  check_finite(file.tensors, path);
  const auto it = file.metadata.find(kGptConfigKey);
  if (it == file.metadata.end())
    throw Error(ErrorKind::format, path + ": no '" + kGptConfigKey +
                                       "' metadata: not a GPT checkpoint written by save_gpt");
  auto model = std::make_unique<GPT<T>>(gpt_config_from_json(it->second, path));
  try {
    model->load_state_dict(file.tensors);
  } catch (const Error& e) {
    throw Error(e.kind(), path + ": " + e.what());
  }
  return model;
}

}  // namespace everlora

#endif  // EVERLORA_IO_GPT_CHECKPOINT_HPP
