// everlora — method names to strategies (the names of BENCHMARKS.md, pinned):
//   seq_lora, inc_lora, o_lora, ella, replay, mtl, am_lora, jump_lora, i_lora, sapt, moa
// and the full fine-tuning reference seq_ft, which runs only when named.
// A gate joins a strategy with '+' ("jump_lora+ella"), and so does I-LoRA ("i_lora+inc_lora").
// make_strategy throws Error(config) for an unknown name (listing the known ones), for a pinned
// method this build does not have yet, and for parts that do not compose.
#ifndef EVERLORA_CONTINUAL_REGISTRY_HPP
#define EVERLORA_CONTINUAL_REGISTRY_HPP

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "everlora/continual/am_lora.hpp"
#include "everlora/continual/ella.hpp"
#include "everlora/continual/i_lora.hpp"
#include "everlora/continual/inc_lora.hpp"
#include "everlora/continual/jump_lora.hpp"
#include "everlora/continual/moa.hpp"
#include "everlora/continual/mtl.hpp"
#include "everlora/continual/o_lora.hpp"
#include "everlora/continual/replay.hpp"
#include "everlora/continual/sapt.hpp"
#include "everlora/continual/seq_ft.hpp"
#include "everlora/continual/seq_lora.hpp"

namespace everlora {

struct MethodInfo {
  std::string name;
  bool available;
  std::string summary;
  bool by_default = true;  ///< run when no method is named (false: a reference row, run on request)
};

/// Every pinned method name, whether this build implements it, and one line on what it does.
inline const std::vector<MethodInfo>& method_catalogue() {
  static const std::vector<MethodInfo> methods = {
      {"seq_lora", true, "one LoRA trained through every task (lower bound)"},
      {"inc_lora", true, "a new LoRA per task, older ones frozen, summed"},
      {"o_lora", true, "IncLoRA + L1 orthogonality of the new A to the old A's"},
      {"ella", true, "IncLoRA + penalty on the new update where old updates are large"},
      {"replay", true, "one LoRA + a 500-example reservoir replayed every step"},
      {"mtl", true, "one LoRA on the union of the tasks so far (upper bound)"},
      {"am_lora", true, "per-task LoRAs mixed per token by a learned attention, L1 on the gates"},
      {"jump_lora", true, "IncLoRA with JumpReLU-gated sparse updates, merged per task (+ella, +am_lora)"},
      {"i_lora", true, "fast LoRA + slow EMA copy, replay and hidden-state consistency (+inc_lora, +o_lora, +ella, +am_lora)"},
      {"sapt", true, "per-task LoRAs mixed per example by one shared attention, kept by attentive reflection"},
      {"moa", true, "per-domain LoRAs trained alone, then a supervised router picks the top-1 (or top-k)"},
      {"seq_ft", true, "no adapter: every weight of the base fine-tuned through every task (reference)", false},
  };
  return methods;
}

/// The methods a run without a method list runs: those this build implements, references aside.
inline std::vector<std::string> available_methods() {
  std::vector<std::string> names;
  for (const auto& m : method_catalogue())
    if (m.available && m.by_default) names.push_back(m.name);
  return names;
}

template <class T>
std::unique_ptr<Strategy<T>> make_strategy(const std::string& name, const StrategyOptions& options) {
  if (name == "seq_lora") return std::make_unique<SeqLora<T>>(options);
  if (name == "inc_lora") return std::make_unique<IncLora<T>>(options);
  if (name == "o_lora") return std::make_unique<OLora<T>>(options);
  if (name == "ella") return std::make_unique<Ella<T>>(options);
  if (name == "replay") return std::make_unique<Replay<T>>(options);
  if (name == "mtl") return std::make_unique<Mtl<T>>(options);
  if (name == "seq_ft") return std::make_unique<SeqFt<T>>(options);
  if (name == "am_lora") return std::make_unique<AmLora<T>>(options);
  if (name == "jump_lora" || name == "jump_lora+inc_lora")
    return std::make_unique<JumpLora<T>>(std::make_unique<IncLora<T>>(options), options, /*merge=*/true);
  if (name == "jump_lora+ella") return std::make_unique<JumpLora<T>>(std::make_unique<Ella<T>>(options), options, false);
  if (name == "jump_lora+am_lora") return std::make_unique<JumpLora<T>>(std::make_unique<AmLora<T>>(options), options, false);
  if (name == "sapt") return std::make_unique<Sapt<T>>(options);
  if (name == "moa") return std::make_unique<Moa<T>>(options);
  if (name == "i_lora" || name == "i_lora+seq_lora") return std::make_unique<ILora<T>>(std::make_unique<SeqLora<T>>(options), options);
  if (name == "i_lora+inc_lora") return std::make_unique<ILora<T>>(std::make_unique<IncLora<T>>(options), options);
  if (name == "i_lora+o_lora") return std::make_unique<ILora<T>>(std::make_unique<OLora<T>>(options), options);
  if (name == "i_lora+ella") return std::make_unique<ILora<T>>(std::make_unique<Ella<T>>(options), options);
  if (name == "i_lora+am_lora") return std::make_unique<ILora<T>>(std::make_unique<AmLora<T>>(options), options);
  // Not built above: say which part of the name is unknown or not implemented yet.
  std::string known;
  for (const auto& m : method_catalogue()) known += (known.empty() ? "" : ", ") + m.name;
  for (std::size_t begin = 0; begin <= name.size();) {
    const std::size_t plus = std::min(name.find('+', begin), name.size());
    const std::string part = name.substr(begin, plus - begin);
    const auto it = std::find_if(method_catalogue().begin(), method_catalogue().end(),
                                 [&](const MethodInfo& m) { return m.name == part; });
    if (it == method_catalogue().end())
      throw Error(ErrorKind::config, "unknown method '" + part + "' in '" + name + "' (known: " + known + ")");
    if (!it->available)
      throw Error(ErrorKind::config, "method '" + name + "': " + part + " is not implemented in this build yet (" + it->summary + ")");
    begin = plus + 1;
  }
  throw Error(ErrorKind::config, "method '" + name + "': these parts do not compose (jump_lora joins inc_lora, ella or "
                                 "am_lora, which add an expert per task; i_lora wraps seq_lora, inc_lora, o_lora, ella or "
                                 "am_lora, whose experts stay in the model; sapt and moa route per example and stand alone)");
}

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_REGISTRY_HPP
