// everlora — adapters: LoRA. So far the functional LoRA math for users' own trainers.
//   #include <everlora/adapters.hpp>
#ifndef EVERLORA_ADAPTERS_HPP
#define EVERLORA_ADAPTERS_HPP

#include "everlora/adapters/lora_math.hpp"

#endif  // EVERLORA_ADAPTERS_HPP
