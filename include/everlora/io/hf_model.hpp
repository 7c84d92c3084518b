// everlora — Hugging Face model folders: config.json + model.safetensors, or shards listed by
// model.safetensors.index.json, read into a DecoderLM and written back in the same layout.
//   auto model = load_hf_model<float>("SmolLM2-135M");        // F32, F16 or BF16 on disk
//   auto half = load_hf_model<float>("SmolLM2-135M", {/*bf16_weights=*/true});  // frozen base in bf16
//   merge_and_unload(*model);  save_hf_model(*model, "merged"); // a folder transformers loads
// Shards are memory-mapped and each tensor's pages are released once decoded, so loading needs
// the model's own memory and little more. Every tensor is checked before the model is returned:
// a missing, extra, misshapen, non-float or non-finite tensor, a shard the index names that is
// not there, or a truncated shard is an everlora::Error naming the file and the tensor.
// GPT-2's Conv1D weights (c_attn, c_proj, c_fc) are stored [in, out] and transposed on the way.
#ifndef EVERLORA_IO_HF_MODEL_HPP
#define EVERLORA_IO_HF_MODEL_HPP

#include <sys/stat.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "everlora/io/hf_config.hpp"
#include "everlora/io/mapped_file.hpp"
#include "everlora/io/safetensors.hpp"
#include "everlora/nn/decoder.hpp"

namespace everlora {

namespace detail {

inline bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

inline bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

/// GPT-2 stores these as Conv1D weights, [in, out].
inline bool is_conv1d_weight(const DecoderConfig& c, const std::string& name) {
  return c.gpt2() && (ends_with(name, "attn.c_attn.weight") || ends_with(name, "attn.c_proj.weight") ||
                      ends_with(name, "mlp.c_fc.weight") || ends_with(name, "mlp.c_proj.weight"));
}

/// The everlora parameter a checkpoint's tensor name stands for; "" for tensors transformers
/// itself skips (attention-mask and rotary buffers, a tied head's copy).
inline std::string parameter_name(const DecoderConfig& c, const std::string& name) {
  if (ends_with(name, ".attn.bias") || ends_with(name, ".attn.masked_bias") || ends_with(name, "rotary_emb.inv_freq"))
    return "";
  if (name == "lm_head.weight" && c.tie_word_embeddings) return "";
  if (c.gpt2() && name.rfind("transformer.", 0) != 0 && name != "lm_head.weight") return "transformer." + name;
  return name;
}

/// shard file → the tensors the index puts there, from model.safetensors.index.json.
inline std::map<std::string, std::set<std::string>> read_shard_index(const std::string& dir) {
  const std::string path = dir + "/model.safetensors.index.json";
  const nlohmann::json root = parse_json_bounded(read_file(path), path);
  if (!root.is_object() || !root.contains("weight_map") || !root.at("weight_map").is_object())
    throw Error(ErrorKind::format, path + ": needs an object 'weight_map' (tensor name → shard file)");
  std::map<std::string, std::set<std::string>> shards;
  for (const auto& [tensor, file] : root.at("weight_map").items()) {
    if (!file.is_string())
      throw Error(ErrorKind::format, path + ": 'weight_map' entry '" + tensor + "' must name a file, not " + file.dump());
    const std::string shard = file.get<std::string>();
    // A NUL byte would end the path early for the system, naming another file than the index does.
    if (shard.empty() || shard.find('/') != std::string::npos || shard.find('\0') != std::string::npos || shard == "." ||
        shard == "..")
      throw Error(ErrorKind::format, path + ": 'weight_map' entry '" + tensor + "' names " + file.dump() +
                                         ", not a file beside the index");
    if (!file_exists(dir + "/" + shard))
      throw Error(ErrorKind::io, path + ": 'weight_map' entry '" + tensor + "' names the shard '" + shard + "', which is not in " + dir);
    shards[shard].insert(tensor);
  }
  if (shards.empty()) throw Error(ErrorKind::format, path + ": 'weight_map' is empty");
  return shards;
}

/// Decodes every tensor of one mapped shard into `params`, checking names, shapes, dtypes and
/// values; `listed` (from the index; null for a single file) must match the shard's tensors.
template <class T>
void load_shard(const MappedFile& file, const DecoderConfig& c, std::map<std::string, Tensor<T>>& params,
                std::set<std::string>& loaded, const std::set<std::string>* listed) {
  const std::string& path = file.path();
  const SafetensorsLayout layout = parse_safetensors_header(file.bytes(), path);
  const auto* data = reinterpret_cast<const unsigned char*>(file.bytes().data()) + layout.data_begin;
  for (const auto& e : layout.entries) {
    if (listed && listed->count(e.name) == 0)
      throw Error(ErrorKind::format, path + ": tensor '" + e.name + "' is not where model.safetensors.index.json puts it");
    const std::string name = parameter_name(c, e.name);
    if (name.empty()) continue;
    const auto it = params.find(name);
    if (it == params.end())
      throw Error(ErrorKind::format, path + ": tensor '" + e.name + "' is not a parameter of this " + to_string(c.family) +
                                         " model (config.json); is the folder's config the checkpoint's?");
    if (!loaded.insert(name).second) throw Error(ErrorKind::format, path + ": tensor '" + e.name + "' appears twice");
    if (e.dtype != "F32" && e.dtype != "F16" && e.dtype != "BF16" && e.dtype != "F64")
      safetensors_error(path, e.name, "dtype " + e.dtype + " is not a float type (everlora reads F32, F16, BF16, F64)");
    Tensor<T>& p = it->second;
    const bool transpose = is_conv1d_weight(c, name);
    Shape stored = safetensors_shape(e, path);
    const Shape expected = transpose ? Shape{p.dim(1), p.dim(0)} : p.shape();
    if (stored != expected)
      throw Error(ErrorKind::shape, path + ": tensor '" + e.name + "' has shape " + stored.str() + " but config.json makes it " +
                                        expected.str());
    const unsigned char* stored_values = data + e.begin;
    auto check_finite = [&](const T* values, Index count, Index first) {
      for (Index i = 0; i < count; ++i)
        if (!std::isfinite(values[i]))
          throw Error(ErrorKind::value, path + ": tensor '" + e.name + "' holds a non-finite value at flat index " + std::to_string(first + i));
    };
    if (transpose) {  // [in, out] → [out, in], through a float copy of this one tensor
      Tensor<T> raw = Tensor<T>::empty(stored);
      decode_safetensors(e.dtype, stored_values, raw.numel(), raw.data());
      check_finite(raw.data(), raw.numel(), 0);
      const bool bf16 = p.held_in_bf16();
      p.hold_in_f32();
      for (Index i = 0; i < stored[0]; ++i)
        for (Index o = 0; o < stored[1]; ++o) p[o * stored[0] + i] = raw[i * stored[1] + o];
      if (bf16) p.hold_in_bf16();
    } else if (p.held_in_bf16()) {  // decoded and rounded a chunk at a time: no float copy of the tensor
      const Index element_bytes = static_cast<Index>(safetensors_dtype_bits(e.dtype) / 8);
      std::vector<T> chunk(static_cast<std::size_t>(std::min<Index>(p.numel(), Index(1) << 20)));
      for (Index first = 0; first < p.numel(); first += static_cast<Index>(chunk.size())) {
        const Index count = std::min(static_cast<Index>(chunk.size()), p.numel() - first);
        decode_safetensors(e.dtype, stored_values + first * element_bytes, count, chunk.data());
        check_finite(chunk.data(), count, first);
        if constexpr (std::is_same_v<T, float>) encode_bf16(chunk.data(), count, p.bf16_data() + first);
      }
    } else if (p.numel() > 0) {
      decode_safetensors(e.dtype, stored_values, p.numel(), p.data());
      check_finite(p.data(), p.numel(), 0);
    }
    file.release(layout.data_begin + e.begin, layout.data_begin + e.end);
  }
}

/// The name a checkpoint stores parameter `name` under, and its value as stored (Conv1D transposed,
/// through a float copy when held in bf16).
template <class T>
Tensor<T> stored_tensor(const DecoderConfig& c, const std::string& name, const Tensor<T>& p) {
  if (!is_conv1d_weight(c, name)) return p;
  const Tensor<T> values = p.as_f32();
  Tensor<T> out = Tensor<T>::empty({p.dim(1), p.dim(0)});
  for (Index o = 0; o < p.dim(0); ++o)
    for (Index i = 0; i < p.dim(1); ++i) out[i * p.dim(0) + o] = values[o * p.dim(1) + i];
  return out;
}

}  // namespace detail

struct HfLoadOptions {
  /// Hold the matrices (linear weights, embedding tables) in bfloat16, frozen, as
  /// transformers' torch_dtype=torch.bfloat16 does: half the memory; LoRA, norms and biases stay
  /// float, and every product runs in float on the bf16 values. For a float model only.
  bool bf16_weights = false;
};

/// Loads the model folder `dir` (config.json, then model.safetensors.index.json and its shards, or
/// model.safetensors) into a DecoderLM<T>.
template <class T>
std::shared_ptr<DecoderLM<T>> load_hf_model(const std::string& dir, const HfLoadOptions& options = {}) {
  const std::string config_path = dir + "/config.json";
  DecoderConfig config = decoder_config_from_json(read_file(config_path), config_path);
  config.bf16_weights = options.bf16_weights;
  const bool sharded = detail::file_exists(dir + "/model.safetensors.index.json");
  if (!sharded && !detail::file_exists(dir + "/model.safetensors"))
    throw Error(ErrorKind::io, "load_hf_model('" + dir + "'): neither model.safetensors nor model.safetensors.index.json is there");
  auto model = std::make_shared<DecoderLM<T>>(config, /*initialise=*/false);
  std::map<std::string, Tensor<T>> params;
  for (auto& [name, p] : model->named_parameters()) params.emplace(name, p);
  std::set<std::string> loaded;
  if (sharded) {
    for (const auto& [shard, tensors] : detail::read_shard_index(dir))
      detail::load_shard(MappedFile(dir + "/" + shard), config, params, loaded, &tensors);
  } else {
    detail::load_shard(MappedFile(dir + "/model.safetensors"), config, params, loaded, nullptr);
  }
  for (const auto& [name, p] : params)
    if (loaded.count(name) == 0)
      throw Error(ErrorKind::format, "load_hf_model('" + dir + "'): tensor '" + name + "' (shape " + p.shape().str() +
                                         ") is missing from the checkpoint");
  return model;
}

struct HfSaveOptions {
  std::string dtype;                             ///< "bfloat16", "float16" or "float32"; "": the config's torch_dtype
  std::uint64_t max_shard_bytes = 5000000000ull;  ///< larger models are split into shards, as transformers does
};

/// Writes `model` to the folder `dir` (created if needed) as transformers lays a model out:
/// config.json (the one it was read from, torch_dtype updated) and model.safetensors, or
/// model-0000i-of-0000n.safetensors shards with model.safetensors.index.json. Every file is
/// written atomically. Adapters must be merged first (merge_and_unload).
template <class T>
void save_hf_model(DecoderLM<T>& model, const std::string& dir, const HfSaveOptions& options = {}) {
  const DecoderConfig& c = model.config();
  const std::string torch_dtype = options.dtype.empty() ? c.torch_dtype : options.dtype;
  const std::map<std::string, std::string> dtypes = {{"bfloat16", "BF16"}, {"float16", "F16"}, {"float32", "F32"}};
  if (dtypes.count(torch_dtype) == 0)
    throw Error(ErrorKind::config, "save_hf_model('" + dir + "'): dtype '" + torch_dtype + "' is not bfloat16, float16 or float32");
  const std::string dtype = dtypes.at(torch_dtype);
  const std::uint64_t element_bytes = detail::safetensors_dtype_bits(dtype) / 8;
  std::vector<StateDict<T>> shards(1);
  std::uint64_t shard_bytes = 0;
  for (auto& [name, p] : model.named_parameters()) {
    if (name.find(".experts.") != std::string::npos || name.find(".combiner.") != std::string::npos)
      throw Error(ErrorKind::value, "save_hf_model('" + dir + "'): the model still holds adapters ('" + name +
                                        "'); merge_and_unload it first, or save the adapter with save_peft_adapter");
    const std::uint64_t bytes = static_cast<std::uint64_t>(p.numel()) * element_bytes;
    if (shard_bytes > 0 && shard_bytes + bytes > options.max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().emplace(name, detail::stored_tensor(c, name, p));
    shard_bytes += bytes;
  }
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) throw detail::io_error("save_hf_model: cannot create", dir, errno);
  const SafetensorsMetadata metadata = {{"format", "pt"}};
  if (shards.size() == 1) {
    save_safetensors(dir + "/model.safetensors", shards[0], metadata, dtype);
  } else {
    nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < shards.size(); ++i) {
      char file[64];
      std::snprintf(file, sizeof file, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
      save_safetensors(dir + "/" + file, shards[i], metadata, dtype);
      for (const auto& [name, t] : shards[i]) {
        index["weight_map"][name] = file;
        total += static_cast<std::uint64_t>(t.numel()) * element_bytes;
      }
    }
    index["metadata"]["total_size"] = total;
    write_file_atomically(dir + "/model.safetensors.index.json", index.dump(2) + "\n");
  }
  write_file_atomically(dir + "/config.json", decoder_config_to_json(c, torch_dtype));
}

}  // namespace everlora

#endif  // EVERLORA_IO_HF_MODEL_HPP
