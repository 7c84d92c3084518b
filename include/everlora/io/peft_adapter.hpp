// everlora — PEFT adapter directories: save a LoRA expert the way Hugging Face PEFT's
// save_pretrained does (adapter_config.json + adapter_model.safetensors), so PEFT can load it, and
// load PEFT's LoRA adapters into an everlora model (attaching the expert where it is missing).
//   save_peft_adapter(model, "out/task1", "task1");            // one expert, at the top of the dir
//   save_peft_adapters(model, "out/all");                      // "default" on top, others in subdirs
//   load_peft_adapter(model, "hub/adapter");                   // PEFT's files → expert "default"
// everlora-only state (routers, gates) goes to everlora_extra.safetensors next to them.
// @sa docs/formats.md
#ifndef EVERLORA_IO_PEFT_ADAPTER_HPP
#define EVERLORA_IO_PEFT_ADAPTER_HPP

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "everlora/adapters/attach.hpp"
#include "everlora/io/atomic_file.hpp"
#include "everlora/io/detail/bounded_json.hpp"
#include "everlora/io/fingerprint.hpp"
#include "everlora/io/peft_name_map.hpp"
#include "everlora/io/safetensors.hpp"

namespace everlora {

inline constexpr const char* kPeftConfigFile = "adapter_config.json";
inline constexpr const char* kPeftWeightsFile = "adapter_model.safetensors";
inline constexpr const char* kEverloraExtraFile = "everlora_extra.safetensors";
/// PEFT's key prefix (PeftModel.base_model = LoraModel, whose .model is the wrapped model).
inline constexpr const char* kPeftKeyPrefix = "base_model.model.";
/// Metadata key of adapter_model.safetensors: the fingerprint of the base model's parameters
/// (base_parameters) when everlora saved it. PEFT ignores it; load_peft_adapter checks it.
inline constexpr const char* kBaseFingerprintKey = "everlora_base_fingerprint";

/// What save_peft_adapter writes besides the tensors.
struct PeftSaveOptions {
  std::string base_model_name_or_path;  ///< "" → null
  std::string task_type;                ///< "" → null; PEFT's names, e.g. "CAUSAL_LM"
  /// The config the expert was attached with: its alpha, use_rslora, dropout and init are written
  /// (its r and scale must match the expert). Without it: lora_alpha = scale·r, use_rslora false,
  /// lora_dropout 0, init_lora_weights true. target_modules are always derived from the layers.
  std::optional<LoraConfig> config;
  /// Written as fan_in_fan_out: true for models whose adapted layers are Conv1D in transformers
  /// (GPT-2), as PEFT writes it there; the tensors are the same.
  bool fan_in_fan_out = false;
};

namespace detail {

inline std::string peft_join(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

/// The longest target_modules regex read: std::regex compiles recursively, one level per term and
/// group, and overflows the stack on patterns of some 10,000 characters.
inline constexpr std::size_t kPeftMaxRegexLength = 2048;
/// The most digits of a number in a target_modules regex: libstdc++ reads the counts of {n,m} and
/// of back-references into a long without an overflow check.
inline constexpr std::size_t kPeftMaxRegexDigits = 9;

/// A target_modules regex, compiled as ECMAScript. libstdc++ gets its polynomial-time (Thompson
/// NFA) matcher, which refuses back-references: its default backtracks, taking exponential time on
/// patterns such as "(.*.*)*x".
inline std::regex peft_regex(const std::string& pattern) {
#if defined(__GLIBCXX__)
  return std::regex(pattern, std::regex::ECMAScript | std::regex_constants::__polynomial);
#else
  return std::regex(pattern);
#endif
}

/// PEFT's target rule on a (PEFT-named) module path: a list matches the path or a "." suffix of
/// it; a string is a regular expression that must match the whole path (re.fullmatch).
struct PeftTargets {
  std::vector<std::string> list;
  std::optional<std::string> regex;

  bool matches(const std::string& path) const {
    if (regex) return std::regex_match(path, peft_regex(*regex));
    return matching(path) != nullptr;
  }
  const std::string* matching(const std::string& path) const {
    for (const auto& t : list)
      if (path == t || (path.size() > t.size() && path[path.size() - t.size() - 1] == '.' &&
                        path.compare(path.size() - t.size(), t.size(), t) == 0))
        return &t;
    return nullptr;
  }
};

/// The candidate layers of `model`: every module that is not the root, an expert bank's subtree,
/// or a part of an AdaptedLinear (its combiner, gate), with its path and whether it is a Linear.
template <class T>
std::vector<std::pair<std::string, Module<T>*>> peft_candidates(Module<T>& model) {
  std::vector<std::pair<std::string, Module<T>*>> out;
  std::set<std::string> adapted;
  for (auto& [path, m] : model.named_modules()) {
    if (path.empty()) continue;
    const auto [parent, child] = split_path(path);
    if (adapted.count(parent) || path.find(".experts.") != std::string::npos ||
        dynamic_cast<LoraExpert<T>*>(m) || dynamic_cast<ExpertBank<T>*>(m))
      continue;
    if (dynamic_cast<AdaptedLinear<T>*>(m)) adapted.insert(path);
    out.emplace_back(path, m);
  }
  return out;
}

[[noreturn]] inline void peft_format_error(const std::string& file, const std::string& what) {
  throw Error(ErrorKind::format, "PEFT adapter '" + file + "': " + what);
}

/// A JSON value as written by Python's json (integral floats as integers, as PEFT's ints are).
inline nlohmann::json peft_number(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return static_cast<std::int64_t>(v);
  return v;
}

/// The LoRA settings of an adapter_config.json, checked; `file` names it in errors.
struct PeftConfigFile {
  LoraConfig config;
  PeftTargets targets;
};

inline PeftConfigFile parse_peft_config(const std::string& text, const std::string& file) {
  const nlohmann::json j = parse_json_bounded(text, "PEFT adapter '" + file + "'");
  if (!j.is_object()) peft_format_error(file, "the config is not a JSON object");
  auto has = [&j](const char* key) { return j.contains(key) && !j.at(key).is_null(); };
  auto refuse = [&file](const char* key, const std::string& why) {
    peft_format_error(file, std::string("'") + key + "' is not supported: " + why);
  };
  if (!j.contains("peft_type") || !j.at("peft_type").is_string())
    peft_format_error(file, "no 'peft_type' string (this is not a PEFT adapter config)");
  if (j.at("peft_type") != "LORA")
    peft_format_error(file, "'peft_type' is \"" + j.at("peft_type").get<std::string>() +
                                "\": everlora reads LoRA adapters only (\"LORA\")");
  PeftConfigFile out;
  LoraConfig& c = out.config;
  c.alpha = 8;  // PEFT's defaults, for keys left out
  if (has("r")) {
    if (!j.at("r").is_number_integer() || j.at("r").get<std::int64_t>() < 1)
      peft_format_error(file, "'r' must be a positive integer, got " + j.at("r").dump());
    c.r = static_cast<Index>(j.at("r").get<std::int64_t>());
  }
  auto number = [&](const char* key, double& dst) {
    if (!has(key)) return;
    if (!j.at(key).is_number()) peft_format_error(file, std::string("'") + key + "' must be a number");
    dst = j.at(key).get<double>();
  };
  number("lora_alpha", c.alpha);
  number("lora_dropout", c.dropout);
  auto flag = [&](const char* key) {
    if (!has(key)) return false;
    if (!j.at(key).is_boolean()) peft_format_error(file, std::string("'") + key + "' must be true or false");
    return j.at(key).get<bool>();
  };
  c.use_rslora = flag("use_rslora");
  if (flag("use_dora")) refuse("use_dora", "DoRA adapters (use_dora: true) need a magnitude vector everlora does not have");
  // fan_in_fan_out: true only says the base layer stores its weight [in, out] (GPT-2's Conv1D);
  // PEFT's lora_A [r, in] and lora_B [out, r] are the same either way, and everlora's loaders
  // already turned such weights into [out, in], so the flag changes nothing here.
  if (flag("lora_bias")) refuse("lora_bias", "LoRA biases (lora_bias: true) are not part of everlora's LoRA");
  if (flag("use_qalora")) refuse("use_qalora", "QA-LoRA needs quantised base layers");
  if (has("bias") && j.at("bias") != "none")
    refuse("bias", "only \"none\" is supported, got " + j.at("bias").dump() + " (trained base biases)");
  for (const char* key : {"rank_pattern", "alpha_pattern"})
    if (has(key) && !(j.at(key).is_object() && j.at(key).empty()))
      refuse(key, "per-layer ranks or alphas are not supported, got " + j.at(key).dump());
  for (const char* key : {"modules_to_save", "layers_to_transform", "layer_replication",
                          "exclude_modules", "trainable_token_indices", "target_parameters",
                          "megatron_config", "alora_invocation_tokens"})
    if (has(key) && !(j.at(key).is_array() && j.at(key).empty()))
      refuse(key, "only null or empty is supported, got " + j.at(key).dump());
  if (has("init_lora_weights")) {
    const auto& init = j.at("init_lora_weights");
    if (init == "gaussian")
      c.init = LoraInit::gaussian;
    else if (!init.is_boolean())
      refuse("init_lora_weights", init.dump() + " initialisations (PiSSA, OLoRA, LoftQ, …) change the base "
                                                "weights; convert the adapter to plain LoRA first");
  }
  if (!has("target_modules")) peft_format_error(file, "no 'target_modules' (everlora has no default targets)");
  const auto& t = j.at("target_modules");
  if (t.is_string()) {
    if (t == "all-linear") refuse("target_modules", "\"all-linear\"; list the layers");
    const std::string& pattern = t.get_ref<const std::string&>();
    if (pattern.size() > kPeftMaxRegexLength)
      refuse("target_modules", "a regular expression of " + std::to_string(pattern.size()) +
                                   " characters, over the " + std::to_string(kPeftMaxRegexLength) +
                                   " everlora reads; list the layers");
    std::size_t digits = 0;
    for (char ch : pattern)
      if ((digits = ch >= '0' && ch <= '9' ? digits + 1 : 0) > kPeftMaxRegexDigits)
        refuse("target_modules", "a regular expression holding a number of more than " +
                                     std::to_string(kPeftMaxRegexDigits) + " digits");
    try {
      peft_regex(pattern);
    } catch (const std::regex_error& e) {
      peft_format_error(file, "'target_modules' " + t.dump() + " is not a valid regular expression (" +
                                  e.what() + ")");
    }
    out.targets.regex = pattern;
  } else if (t.is_array() && !t.empty()) {
    for (const auto& v : t) {
      if (!v.is_string() || v.get<std::string>().empty())
        peft_format_error(file, "'target_modules' must hold non-empty strings, got " + v.dump());
      out.targets.list.push_back(v.get<std::string>());
    }
  } else {
    peft_format_error(file, "'target_modules' must be a non-empty list or a regex string, got " + t.dump());
  }
  c.target_modules = out.targets.list.empty() ? std::vector<std::string>{*out.targets.regex}
                                              : out.targets.list;
  try {
    c.validate();
  } catch (const Error& e) {
    peft_format_error(file, e.what());
  }
  return out;
}

/// The adapter_config.json PEFT's save_pretrained would write for these settings.
inline std::string peft_config_json(const LoraConfig& c, const std::vector<std::string>& targets,
                                    const PeftSaveOptions& options) {
  auto string_or_null = [](const std::string& s) { return s.empty() ? nlohmann::json() : nlohmann::json(s); };
  nlohmann::json j = {
      {"alpha_pattern", nlohmann::json::object()},
      {"base_model_name_or_path", string_or_null(options.base_model_name_or_path)},
      {"bias", "none"},
      {"exclude_modules", nullptr},
      {"fan_in_fan_out", options.fan_in_fan_out},
      {"inference_mode", true},
      {"init_lora_weights", c.init == LoraInit::gaussian ? nlohmann::json("gaussian") : nlohmann::json(true)},
      {"layer_replication", nullptr},
      {"layers_pattern", nullptr},
      {"layers_to_transform", nullptr},
      {"loftq_config", nlohmann::json::object()},
      {"lora_alpha", peft_number(c.alpha)},
      {"lora_bias", false},
      {"lora_dropout", c.dropout},
      {"megatron_config", nullptr},
      {"megatron_core", "megatron.core"},
      {"modules_to_save", nullptr},
      {"peft_type", "LORA"},
      {"r", c.r},
      {"rank_pattern", nlohmann::json::object()},
      {"revision", nullptr},
      {"target_modules", targets},
      {"task_type", string_or_null(options.task_type)},
      {"use_dora", false},
      {"use_rslora", c.use_rslora},
  };
  return j.dump(2);  // nlohmann's objects are sorted: PEFT writes json.dumps(indent=2, sort_keys=True)
}

/// target_modules for `adapted` (PEFT names): the last components when they select exactly these
/// layers among `linears` (all Linear layers, PEFT names), else the full paths. Sorted.
inline std::vector<std::string> peft_target_list(const std::set<std::string>& adapted,
                                                 const std::vector<std::string>& linears) {
  PeftTargets last;
  std::set<std::string> names;
  for (const auto& p : adapted) names.insert(split_path(p).second);
  last.list.assign(names.begin(), names.end());
  for (const auto& p : linears)
    if (last.matches(p) != (adapted.count(p) > 0)) return {adapted.begin(), adapted.end()};
  return last.list;
}

}  // namespace detail

// ---- saving -------------------------------------------------------------------------------------

/// Writes expert `expert_name` of every adapted layer of `model` as a PEFT LoRA adapter in `dir`
/// (created if needed): adapter_config.json and adapter_model.safetensors (float32, keys
/// base_model.model.<names.to_peft(layer path)>.lora_A.weight [r, in] / .lora_B.weight [out, r]),
/// each atomically. Throws Error(config) when no layer has the expert, the layers' ranks or scales
/// differ (PEFT's rank_pattern is not written), a layer is merged or has a non-identity gate, or the
/// name map is not one-to-one on the layers; Error(io) when the files cannot be written.
template <class T>
void save_peft_adapter(Module<T>& model, const std::string& dir,
                       const std::string& expert_name = "default", const PeftNameMap& names = {},
                       const PeftSaveOptions& options = {}) {
  const std::string api = "save_peft_adapter('" + dir + "', '" + expert_name + "'): ";
  auto fail = [&api](const std::string& what) { throw Error(ErrorKind::config, api + what); };
  StateDict<float> tensors;
  std::set<std::string> adapted, peft_names;
  Index rank = 0;
  double scale = 0;
  for (auto& [path, layer] : adapted_layers(model)) {
    if (!layer->experts().has(expert_name)) continue;
    const LoraExpert<T>& e = layer->experts().get(expert_name);
    if (layer->merged()) fail("layer '" + path + "' is merged; unmerge() it first");
    if (!layer->gate().is_identity())
      fail("layer '" + path + "' has a " + layer->gate().type_name() + " gate, which PEFT's LoRA cannot express");
    if (rank == 0) {
      rank = e.rank();
      scale = static_cast<double>(e.scale());
    } else if (e.rank() != rank || static_cast<double>(e.scale()) != scale) {
      fail("layer '" + path + "' has rank " + std::to_string(e.rank()) + " and scale " +
           std::to_string(e.scale()) + " but earlier layers rank " + std::to_string(rank) + " and scale " +
           std::to_string(scale) + " (one rank and alpha per adapter file)");
    }
    const std::string mapped = names.to_peft(path);
    if (names.from_peft(mapped) != path)
      fail("the name map sends '" + path + "' to '" + mapped + "', which maps back to '" +
           names.from_peft(mapped) + "'");
    if (!peft_names.insert(mapped).second) fail("the name map sends two layers to '" + mapped + "'");
    adapted.insert(path);
    for (const auto& [suffix, src] : {std::make_pair(".lora_A.weight", &e.a()), std::make_pair(".lora_B.weight", &e.b())}) {
      Tensor<float> dst = Tensor<float>::empty(src->shape());
      for (Index i = 0; i < dst.numel(); ++i) dst[i] = static_cast<float>((*src)[i]);
      tensors.emplace(kPeftKeyPrefix + mapped + suffix, dst);
    }
  }
  if (adapted.empty()) fail("no adapted layer has an expert named '" + expert_name + "'");
  LoraConfig config;
  if (options.config) {
    config = *options.config;
    if (config.r != rank || std::fabs(config.scale() - scale) > 1e-6 * scale)
      fail("options.config has r " + std::to_string(config.r) + " and scale " + std::to_string(config.scale()) +
           " but the expert has rank " + std::to_string(rank) + " and scale " + std::to_string(scale));
  } else {
    config.r = rank;
    config.alpha = scale * static_cast<double>(rank);
  }
  std::vector<std::string> linears;
  for (auto& [path, m] : detail::peft_candidates(model))
    if (dynamic_cast<Linear<T>*>(m)) linears.push_back(names.to_peft(path));
  const std::string json = detail::peft_config_json(config, detail::peft_target_list(peft_names, linears), options);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::io, api + "cannot create the directory: " + ec.message());
  save_safetensors(detail::peft_join(dir, kPeftWeightsFile), tensors,
                   {{"format", "pt"}, {kBaseFingerprintKey, parameters_fingerprint(base_parameters(model))}});
  write_file_atomically(detail::peft_join(dir, kPeftConfigFile), json + "\n");
}

/// Every expert name of the adapted layers of `model`, in the order they first appear.
template <class T>
std::vector<std::string> peft_expert_names(Module<T>& model) {
  std::vector<std::string> out;
  for (auto& [path, layer] : adapted_layers(model))
    for (const auto& n : layer->experts().names())
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  return out;
}

/// Saves every expert as PEFT does with several adapters: "default" in `dir` itself, each other
/// one in `dir/<expert name>/`. Returns the expert names saved ("default" first, then by name).
template <class T>
std::vector<std::string> save_peft_adapters(Module<T>& model, const std::string& dir,
                                            const PeftNameMap& names = {},
                                            const PeftSaveOptions& options = {}) {
  std::vector<std::string> experts = peft_expert_names(model);
  std::sort(experts.begin(), experts.end(), [](const std::string& a, const std::string& b) {
    return (a == "default") != (b == "default") ? a == "default" : a < b;
  });
  if (experts.empty())
    throw Error(ErrorKind::config, "save_peft_adapters('" + dir + "'): the model has no adapted layer");
  for (const auto& e : experts)
    if (e == "." || e == ".." || e.find('/') != std::string::npos || e.find('\\') != std::string::npos)
      throw Error(ErrorKind::config, "save_peft_adapters('" + dir + "'): expert name '" + e +
                                         "' cannot name a sub-directory");
  for (const auto& e : experts)
    save_peft_adapter(model, e == "default" ? dir : detail::peft_join(dir, e), e, names, options);
  return experts;
}

// ---- the everlora sidecar -----------------------------------------------------------------------

/// Writes everlora-only state of an adapter (router and mixer weights, gate thresholds) to
/// dir/everlora_extra.safetensors, atomically, beside PEFT's files, which stay PEFT-loadable.
template <class T>
void save_everlora_extra(const std::string& dir, const StateDict<T>& state,
                         SafetensorsMetadata metadata = {}) {
  metadata.emplace("format", "everlora");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::io, "save_everlora_extra('" + dir + "'): cannot create the directory: " + ec.message());
  save_safetensors(detail::peft_join(dir, kEverloraExtraFile), state, metadata);
}

/// The tensors of dir/everlora_extra.safetensors, or none when the file does not exist.
template <class T>
StateDict<T> load_everlora_extra(const std::string& dir) {
  const std::string path = detail::peft_join(dir, kEverloraExtraFile);
  if (!std::filesystem::exists(path)) return {};
  return load_safetensors<T>(path).tensors;
}

// ---- loading ------------------------------------------------------------------------------------

/// Loads the PEFT LoRA adapter in `dir` (adapter_config.json + adapter_model.safetensors) into
/// `model` as expert `expert_name`: layers targeted by the config (matched on names.to_peft(path),
/// PEFT's rule) that lack the expert get it through attach() with the file's r, alpha, dropout and
/// use_rslora; then A and B are copied in. Everything is checked before the model changes:
/// Error(format) for a config everlora refuses (peft_type not LORA, DoRA, bias,
/// rank/alpha patterns, modules_to_save, …), a target that matches no layer or a non-Linear, a
/// missing or unexpected tensor; Error(shape) for a wrong shape or a rank that is not the config's
/// r; Error(config) when a layer already has the expert with another rank or scale, or is merged,
/// or the file was saved from another base model (kBaseFingerprintKey); Error(value) for a NaN or
/// infinite weight; Error(io) when a file cannot be read. Messages name the file and the key. Returns the adapted
/// layer paths.
template <class T>
std::vector<std::string> load_peft_adapter(Module<T>& model, const std::string& dir,
                                           const std::string& expert_name = "default",
                                           const PeftNameMap& names = {}) {
  const std::string config_file = detail::peft_join(dir, kPeftConfigFile);
  const std::string weights_file = detail::peft_join(dir, kPeftWeightsFile);
  const detail::PeftConfigFile parsed = detail::parse_peft_config(read_file(config_file), config_file);
  // Targets: matched on PEFT names, like PEFT's _check_target_module_exists.
  std::vector<std::string> targets;
  std::set<std::string> used_targets;
  for (auto& [path, m] : detail::peft_candidates(model)) {
    const std::string mapped = names.to_peft(path);
    if (!parsed.targets.matches(mapped)) continue;
    if (!dynamic_cast<Linear<T>*>(m))
      detail::peft_format_error(config_file, "target_modules match '" + mapped + "' (everlora '" + path +
                                                 "'), a " + m->type_name() + ", not a Linear");
    targets.push_back(path);
    if (const std::string* t = parsed.targets.matching(mapped)) used_targets.insert(*t);
  }
  for (const auto& t : parsed.targets.list)
    if (!used_targets.count(t))
      detail::peft_format_error(config_file, "target '" + t + "' matches no Linear layer of the " +
                                                 std::string(model.type_name()) +
                                                 (names.identity() ? "" : " (after the name map)"));
  if (targets.empty())
    detail::peft_format_error(config_file, "target_modules match no Linear layer of the " +
                                               std::string(model.type_name()));
  // Tensors: exactly lora_A and lora_B of every target, of the right shapes.
  SafetensorsFile<T> file = load_safetensors<T>(weights_file);
  check_finite(file.tensors, weights_file);
  if (const auto it = file.metadata.find(kBaseFingerprintKey); it != file.metadata.end()) {
    const std::string here = parameters_fingerprint(base_parameters(model));
    if (it->second != here)
      throw Error(ErrorKind::config, "PEFT adapter '" + weights_file + "' was saved from another base model (fingerprint " +
                                         it->second + ", this " + model.type_name() + "'s is " + here + ")");
  }
  std::set<std::string> expected;
  std::vector<std::string> missing_expert;
  const LoraConfig& config = parsed.config;
  for (const auto& path : targets) {
    auto& layer = dynamic_cast<Linear<T>&>(model.find(path));
    const std::string key = kPeftKeyPrefix + names.to_peft(path);
    const Index sizes[2][2] = {{config.r, layer.in_features()}, {layer.out_features(), config.r}};
    for (int i = 0; i < 2; ++i) {
      const std::string name = key + (i == 0 ? ".lora_A.weight" : ".lora_B.weight");
      expected.insert(name);
      const auto it = file.tensors.find(name);
      if (it == file.tensors.end())
        detail::peft_format_error(weights_file, "tensor '" + name + "' is missing (layer '" + path +
                                                    "' is a target of " + kPeftConfigFile + ")");
      const Shape want{sizes[i][0], sizes[i][1]};
      const Shape& got = it->second.shape();
      if (got == want) continue;
      const bool rank_only = got.rank() == 2 && (i == 0 ? got[1] == want[1] : got[0] == want[0]);
      throw Error(ErrorKind::shape, "PEFT adapter '" + weights_file + "': tensor '" + name + "' has shape " +
                                        got.str() + " but layer '" + path + "' [" +
                                        std::to_string(layer.out_features()) + ", " +
                                        std::to_string(layer.in_features()) + "] with r = " +
                                        std::to_string(config.r) + " needs " + want.str() +
                                        (rank_only ? " (its rank is not the config's r)" : ""));
    }
    auto* adapted = dynamic_cast<AdaptedLinear<T>*>(&layer);
    if (adapted && adapted->merged())
      throw Error(ErrorKind::config, "load_peft_adapter('" + dir + "'): layer '" + path + "' is merged");
    if (adapted && adapted->experts().has(expert_name)) {
      const LoraExpert<T>& e = adapted->experts().get(expert_name);
      if (e.rank() != config.r || std::fabs(static_cast<double>(e.scale()) - config.scale()) > 1e-6 * config.scale())
        throw Error(ErrorKind::config, "load_peft_adapter('" + dir + "'): layer '" + path + "' already has expert '" +
                                           expert_name + "' of rank " + std::to_string(e.rank()) + " and scale " +
                                           std::to_string(e.scale()) + ", the file's are " +
                                           std::to_string(config.r) + " and " + std::to_string(config.scale()));
    } else {
      missing_expert.push_back(path);
    }
  }
  for (const auto& [name, t] : file.tensors)
    if (!expected.count(name))
      detail::peft_format_error(weights_file, "unexpected tensor '" + name + "' (not lora_A or lora_B of a layer " +
                                                  kPeftConfigFile + " targets)");
  // Attach where needed, then copy.
  if (!missing_expert.empty()) {
    LoraConfig exact = config;
    exact.target_modules = missing_expert;  // exact paths: the matching was done above
    attach(model, exact, expert_name);
  }
  NoGrad no_graph;
  for (const auto& path : targets) {
    auto& e = dynamic_cast<AdaptedLinear<T>&>(model.find(path)).experts().get(expert_name);
    const std::string key = kPeftKeyPrefix + names.to_peft(path);
    e.a().vec() = file.tensors.at(key + ".lora_A.weight").vec();
    e.b().vec() = file.tensors.at(key + ".lora_B.weight").vec();
  }
  return targets;
}

/// Loads what save_peft_adapters wrote: the adapter in `dir` itself (if any) as "default", and the
/// one in every sub-directory holding an adapter_config.json as the expert named by the
/// sub-directory (in name order). Returns the expert names loaded.
template <class T>
std::vector<std::string> load_peft_adapters(Module<T>& model, const std::string& dir,
                                            const PeftNameMap& names = {}) {
  std::vector<std::string> loaded, subdirs;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.is_directory() && std::filesystem::exists(entry.path() / kPeftConfigFile))
      subdirs.push_back(entry.path().filename().string());
  if (ec) throw Error(ErrorKind::io, "load_peft_adapters('" + dir + "'): cannot list the directory: " + ec.message());
  std::sort(subdirs.begin(), subdirs.end());
  if (std::filesystem::exists(detail::peft_join(dir, kPeftConfigFile))) {
    load_peft_adapter(model, dir, "default", names);
    loaded.push_back("default");
  }
  for (const auto& s : subdirs) {
    load_peft_adapter(model, detail::peft_join(dir, s), s, names);
    loaded.push_back(s);
  }
  if (loaded.empty())
    throw Error(ErrorKind::format, "load_peft_adapters('" + dir + "'): no " + kPeftConfigFile +
                                       " in it or in a sub-directory");
  return loaded;
}

}  // namespace everlora

#endif  // EVERLORA_IO_PEFT_ADAPTER_HPP
