// everlora — run checkpoints: the whole state of a continual run in one folder, so that a killed
// run continues where it stopped and ends with exactly the R of an uninterrupted one
// (TrainerOptions::checkpoint_dir; docs/formats.md, "Run checkpoints").
//   DIR/manifest.json                    format, version, the base model's fingerprint, the run's
//                                        config, position (task, step), R so far, generators, the
//                                        strategy's fields, and the state file's name, size, hash
//   DIR/state-<task>-<step>-<hash>.safetensors  "model/<path>" (every parameter, base included),
//                                        "optimizer/<key>", "strategy/<key>"
// Writing: the state file first, then the manifest, each to a temporary that is fsynced and renamed
// over its target (write_file_atomically); only then are older state files removed. A crash at any
// point leaves the previous checkpoint whole. Reading checks the manifest, the state file's size and
// hash, and that every value is finite before anything is used.
#ifndef EVERLORA_CONTINUAL_RUN_CHECKPOINT_HPP
#define EVERLORA_CONTINUAL_RUN_CHECKPOINT_HPP

#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <system_error>

#include "everlora/adapters/attach.hpp"
#include "everlora/continual/strategy.hpp"
#include "everlora/io/atomic_file.hpp"
#include "everlora/io/detail/bounded_json.hpp"
#include "everlora/io/fingerprint.hpp"
#include "everlora/io/safetensors.hpp"
#include "everlora/nn/dropout.hpp"
#include "everlora/version.hpp"

namespace everlora {

inline constexpr const char* kRunManifestFile = "manifest.json";
inline constexpr const char* kRunCheckpointFormat = "everlora-run-checkpoint";
inline constexpr int kRunCheckpointVersion = 1;

/// A checkpoint as read: its manifest and its tensors ("model/…", "optimizer/…", "strategy/…").
template <class T>
struct RunCheckpoint {
  nlohmann::json manifest;
  StateDict<T> tensors;
};

namespace detail {

inline Error manifest_error(const std::string& source, const std::string& what) {
  return Error(ErrorKind::format, "run checkpoint '" + source + "': " + what);
}

}  // namespace detail

/// Parses a manifest and checks what every reader relies on: the format and version, the state
/// file's name (a plain file name), size and hash, the base fingerprint, and that the config,
/// result, position, progress, generators and strategy fields are objects (read_run_progress checks
/// the position against the run). Anything else is Error(format) naming `source` and the field.
inline nlohmann::json parse_run_manifest(std::string_view text, const std::string& source) {
  nlohmann::json m = detail::parse_json_bounded(text, "run checkpoint '" + source + "'");
  if (!m.is_object()) throw detail::manifest_error(source, "not a JSON object");
  const auto need = [&](const char* key, const char* what, auto&& ok) {
    if (!m.contains(key)) throw detail::manifest_error(source, std::string("no field '") + key + "'");
    if (!ok(m[key])) throw detail::manifest_error(source, std::string("field '") + key + "' is not " + what);
  };
  using J = const nlohmann::json&;
  need("format", "\"everlora-run-checkpoint\"", [](J v) { return v == kRunCheckpointFormat; });
  need("version", "an integer", [](J v) { return v.is_number_integer(); });
  if (m["version"] != kRunCheckpointVersion)
    throw detail::manifest_error(source, "version " + m["version"].dump() + " (this everlora reads version " +
                                             std::to_string(kRunCheckpointVersion) + ")");
  need("state_file", "a plain file name", [](J v) {
    if (!v.is_string()) return false;
    const auto& s = v.get_ref<const std::string&>();
    return !s.empty() && s.front() != '.' && s.find('/') == std::string::npos && s.find('\0') == std::string::npos;
  });
  need("state_bytes", "a byte count", [](J v) { return v.is_number_unsigned(); });
  need("state_hash", "16 hex digits", [](J v) {
    return v.is_string() && v.get_ref<const std::string&>().size() == 16 &&
           v.get_ref<const std::string&>().find_first_not_of("0123456789abcdef") == std::string::npos;
  });
  need("base_fingerprint", "a string", [](J v) { return v.is_string(); });
  for (const char* key : {"config", "result", "position", "task_progress", "generators", "strategy"})
    need(key, "an object", [](J v) { return v.is_object(); });
  return m;
}

/// Whether `dir` holds a run checkpoint (a manifest); Error(io) when that cannot be told (a folder
/// that cannot be read).
inline bool has_run_checkpoint(const std::string& dir) {
  std::error_code error;
  const bool found = std::filesystem::exists(std::filesystem::path(dir) / kRunManifestFile, error);
  if (error && error != std::errc::no_such_file_or_directory && error != std::errc::not_a_directory)
    throw Error(ErrorKind::io, "run checkpoint: cannot look into '" + dir + "': " + error.message());
  return found;
}

namespace detail {
/// Whether `file` is a name write_run_checkpoint gives state files: state-<5 digits>-<7 digits>-
/// <16 hex digits>.safetensors (other files in the folder are never removed).
inline bool is_state_file_name(const std::string& file) {
  const std::string pattern = "state-ddddd-ddddddd-hhhhhhhhhhhhhhhh.safetensors";
  if (file.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < file.size(); ++i) {
    const char c = file[i], p = pattern[i];
    const bool ok = p == 'd' ? (c >= '0' && c <= '9') : p == 'h' ? std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c)) : c == p;
    if (!ok) return false;
  }
  return true;
}
}  // namespace detail

/// Writes a checkpoint into `dir` (created if missing): the state file, then the manifest (with
/// the state file's name, size and hash added), then removes older state files and temporaries
/// that a killed write left behind.
template <class T>
void write_run_checkpoint(const std::string& dir, nlohmann::json manifest, const StateDict<T>& tensors) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) throw Error(ErrorKind::io, "run checkpoint: cannot create the folder '" + dir + "': " + error.message());
  const std::string bytes = to_safetensors_bytes(tensors, {{"format", kRunCheckpointFormat}});
  const std::string hash = hex64(fnv1a64(bytes));
  // Named by content too: rewriting a position with other values never touches the file the
  // current manifest names.
  const auto& position = manifest.at("position");
  char prefix[48];
  std::snprintf(prefix, sizeof prefix, "state-%05lld-%07lld-", position.at("task").get<long long>(), position.at("step").get<long long>());
  const std::string name = prefix + hash + ".safetensors";
  write_file_atomically(dir + "/" + name, bytes);
  manifest["format"] = kRunCheckpointFormat;
  manifest["version"] = kRunCheckpointVersion;
  manifest["everlora_version"] = EVERLORA_VERSION_STRING;
  manifest["state_file"] = name;
  manifest["state_bytes"] = bytes.size();
  manifest["state_hash"] = hash;
  write_file_atomically(dir + "/" + kRunManifestFile, manifest.dump(1) + "\n");
  // Best effort: what cannot be removed now is removed by a later checkpoint.
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    const fs::path path = it->path();
    const std::string file = path.filename().string();
    const bool old_state = detail::is_state_file_name(file) && file != name;
    const bool leftover = (file.rfind(".state-", 0) == 0 && file.find(".safetensors.tmp-") != std::string::npos) ||
                          file.rfind(std::string(".") + kRunManifestFile + ".tmp-", 0) == 0;
    std::error_code not_removed;
    if (old_state || leftover) fs::remove(path, not_removed);
  }
}

/// Reads the checkpoint in `dir`: Error(io) when there is none or a file cannot be read,
/// Error(format) for a bad manifest or a state file of the wrong size or hash (truncated or
/// corrupt), Error(value) for a NaN or infinite value, each naming the file.
template <class T>
RunCheckpoint<T> read_run_checkpoint(const std::string& dir) {
  const std::string manifest_path = dir + "/" + kRunManifestFile;
  if (!has_run_checkpoint(dir)) throw Error(ErrorKind::io, "no run checkpoint in '" + dir + "' (no " + kRunManifestFile + ")");
  RunCheckpoint<T> out;
  out.manifest = parse_run_manifest(read_file(manifest_path), manifest_path);
  const std::string state_path = dir + "/" + out.manifest["state_file"].template get<std::string>();
  const std::string bytes = read_file(state_path);
  const auto expected = out.manifest["state_bytes"].template get<std::uint64_t>();
  if (bytes.size() != expected)
    throw Error(ErrorKind::format, "run checkpoint '" + state_path + "' has " + std::to_string(bytes.size()) + " bytes, its manifest says " +
                                       std::to_string(expected) + " (truncated or replaced)");
  if (hex64(fnv1a64(bytes)) != out.manifest["state_hash"])
    throw Error(ErrorKind::format, "run checkpoint '" + state_path + "' does not match the hash in its manifest (corrupt)");
  out.tensors = from_safetensors_bytes<T>(bytes, state_path).tensors;
  check_finite(out.tensors, state_path);
  return out;
}

/// The state of every generator inside `model` (adapter dropout, Dropout layers), by module path.
template <class T>
nlohmann::json module_generators(Module<T>& model) {
  nlohmann::json out = nlohmann::json::object();
  for (auto& [path, m] : model.named_modules()) {
    if (auto* adapted = dynamic_cast<AdaptedLinear<T>*>(m)) out[path] = adapted->dropout_rng().state();
    if (auto* drop = dynamic_cast<Dropout<T>*>(m)) out[path] = drop->rng().state();
  }
  return out;
}

/// Restores module_generators' output; Error(format) naming a generator it lacks.
template <class T>
void restore_module_generators(Module<T>& model, const nlohmann::json& saved) {
  const auto state_of = [&](const std::string& path) {
    if (!saved.contains(path) || !saved[path].is_number_unsigned())
      throw Error(ErrorKind::format, "run checkpoint: no generator state for module '" + path + "'");
    return saved[path].get<std::uint64_t>();
  };
  for (auto& [path, m] : model.named_modules()) {
    if (auto* adapted = dynamic_cast<AdaptedLinear<T>*>(m)) adapted->dropout_rng().set_state(state_of(path));
    if (auto* drop = dynamic_cast<Dropout<T>*>(m)) drop->rng().set_state(state_of(path));
  }
}

/// Every knob of `o`, for the config a checkpoint records.
inline nlohmann::json strategy_options_json(const StrategyOptions& o) {
  return {
      {"lora", {{"r", o.lora.r}, {"alpha", o.lora.alpha}, {"dropout", o.lora.dropout}, {"use_rslora", o.lora.use_rslora},
                {"init", static_cast<int>(o.lora.init)}, {"target_modules", o.lora.target_modules}, {"seed", o.lora.seed}}},
      {"o_lora_lambda", o.o_lora_lambda},
      {"ella_lambda", o.ella_lambda},
      {"replay_capacity", o.replay_capacity},
      {"am_l1_lambda", o.am_l1_lambda},
      {"mixer", {{"attention_dim", o.mixer.attention_dim}, {"gate", to_string(o.mixer.gate)}, {"null_expert", o.mixer.null_expert}}},
      {"jump", {{"init_log_threshold", o.jump.init_log_threshold}, {"bandwidth", o.jump.bandwidth}}},
      {"i_lora", {{"decay", o.i_lora.decay}, {"consistency", o.i_lora.consistency}, {"target", static_cast<int>(o.i_lora.target)}}},
      {"sapt", {{"bottleneck", o.sapt.bottleneck}, {"pool", static_cast<int>(o.sapt.pool)}, {"standardize", o.sapt.standardize},
                {"reflection", o.sapt.reflection}, {"pseudo_fraction", o.sapt.pseudo_fraction}, {"pseudo", static_cast<int>(o.sapt.pseudo)}}},
      {"moa", {{"top_k", o.moa.top_k}, {"input_layer", o.moa.input_layer}, {"prompt_buffer", o.moa.prompt_buffer},
               {"router_steps", o.moa.router_steps}, {"router_lr", o.moa.router_lr}}},
      {"seed", o.seed},
  };
}

/// Error(config) unless the run about to resume has the config the checkpoint in `dir` recorded;
/// the message names the first field that differs and both values.
inline void check_same_run(const nlohmann::json& saved, const nlohmann::json& current, const std::string& dir) {
  if (saved == current) return;
  const nlohmann::json patch = nlohmann::json::diff(saved, current);
  nlohmann::json::json_pointer at(patch.front().at("path").get<std::string>());
  while (!at.empty() && !saved.contains(at) && !current.contains(at)) at = at.parent_pointer();  // "/tasks/-": a longer list
  const auto show = [&](const nlohmann::json& j) { return j.contains(at) ? j.at(at).dump() : std::string("(absent)"); };
  throw Error(ErrorKind::config, "the checkpoint in '" + dir + "' is of another run: " + at.to_string() + " is " + show(saved) +
                                     " there and " + show(current) + " here");
}

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_RUN_CHECKPOINT_HPP
