// everlora — StateDict: named tensors, the unit that modules, optimizers and files exchange.
#ifndef EVERLORA_CORE_STATE_DICT_HPP
#define EVERLORA_CORE_STATE_DICT_HPP

#include <map>
#include <string>

#include "everlora/core/tensor.hpp"

namespace everlora {

/// Path → tensor ("blocks.0.attn.q.weight" → [C, C]), ordered by name.
template <class T>
using StateDict = std::map<std::string, Tensor<T>>;

}  // namespace everlora

#endif  // EVERLORA_CORE_STATE_DICT_HPP
