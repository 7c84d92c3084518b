// everlora — StateDict: named tensors, the unit that modules, optimizers and files exchange.
#ifndef EVERLORA_CORE_STATE_DICT_HPP
#define EVERLORA_CORE_STATE_DICT_HPP

#include <cmath>
#include <map>
#include <string>

#include "everlora/core/tensor.hpp"

namespace everlora {

/// Path → tensor ("blocks.0.attn.q.weight" → [C, C]), ordered by name.
template <class T>
using StateDict = std::map<std::string, Tensor<T>>;

/// The tensors of `all` whose keys start with `prefix`, without it (sharing storage).
template <class T>
StateDict<T> tensors_under(const StateDict<T>& all, const std::string& prefix) {
  StateDict<T> out;
  for (const auto& [key, t] : all)
    if (key.compare(0, prefix.size(), prefix) == 0) out.emplace(key.substr(prefix.size()), t);
  return out;
}

/// Throws Error(value) naming `source`, the tensor and the flat index of the first NaN or infinite
/// value in `tensors` (loaders refuse such weights rather than train or predict with them).
template <class T>
void check_finite(const StateDict<T>& tensors, const std::string& source) {
  for (const auto& [key, t] : tensors)
    for (Index i = 0; i < t.numel(); ++i)
      if (!std::isfinite(t[i]))
        throw Error(ErrorKind::value, "'" + source + "': tensor '" + key + "' holds " + std::to_string(static_cast<double>(t[i])) +
                                          " at flat index " + std::to_string(i) + " (weights must be finite)");
}

}  // namespace everlora

#endif  // EVERLORA_CORE_STATE_DICT_HPP
