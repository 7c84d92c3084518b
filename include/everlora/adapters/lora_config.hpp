// everlora — LoraConfig: what a LoRA adapter looks like, with PEFT's meaning and defaults.
//   r (rank), alpha (scale α/r, or α/√r with use_rslora), dropout on the adapter's input,
//   init (PEFT: A uniform in ±1/√in, B = 0; gaussian: A ~ N(0, 1/r), B = 0), and target_modules:
//   a module is targeted when its path equals a target or ends in "." + target (PEFT's rule).
#ifndef EVERLORA_ADAPTERS_LORA_CONFIG_HPP
#define EVERLORA_ADAPTERS_LORA_CONFIG_HPP

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "everlora/config.hpp"
#include "everlora/core/error.hpp"

namespace everlora {

enum class LoraInit {
  peft,      ///< A uniform in ±1/√in (PEFT's kaiming-uniform with a = √5), B = 0
  gaussian,  ///< A ~ N(0, 1/r), B = 0 (PEFT's init_lora_weights = "gaussian")
};

struct LoraConfig {
  Index r = 8;
  double alpha = 8.0;  // PEFT's default lora_alpha
  double dropout = 0.0;
  bool use_rslora = false;
  LoraInit init = LoraInit::peft;
  std::vector<std::string> target_modules;
  std::uint64_t seed = 0;  // initialisation of A

  /// The factor s of δ(x) = s·(x·Aᵀ)·Bᵀ.
  double scale() const {
    return use_rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r);
  }

  /// Throws Error(config) naming the first bad field.
  void validate() const {
    auto need = [](bool ok, const std::string& what) {
      if (!ok) throw Error(ErrorKind::config, "LoraConfig: " + what);
    };
    need(r >= 1, "r must be >= 1, got " + std::to_string(r));
    need(std::isfinite(alpha) && alpha > 0, "alpha must be > 0, got " + std::to_string(alpha));
    need(dropout >= 0.0 && dropout < 1.0, "dropout must be in [0, 1), got " + std::to_string(dropout));
    need(!target_modules.empty(), "target_modules is empty (name layers such as \"q\", \"v\", \"fc1\")");
    for (const auto& t : target_modules) need(!t.empty(), "target_modules holds an empty name");
  }

  /// PEFT's matching rule: the path equals a target or ends in "." + target.
  bool targets(const std::string& path) const {
    for (const auto& t : target_modules) {
      if (path == t) return true;
      if (path.size() > t.size() && path.compare(path.size() - t.size(), t.size(), t) == 0 &&
          path[path.size() - t.size() - 1] == '.')
        return true;
    }
    return false;
  }
};

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_LORA_CONFIG_HPP
