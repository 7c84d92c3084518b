// everlora — adapters: LoRA attached by name, expert banks, gates, combiners, merging, and the
// functional LoRA math for users' own trainers.
//   #include <everlora/adapters.hpp>
#ifndef EVERLORA_ADAPTERS_HPP
#define EVERLORA_ADAPTERS_HPP

#include "everlora/nn.hpp"
#include "everlora/adapters/lora_math.hpp"
#include "everlora/adapters/lora_config.hpp"
#include "everlora/adapters/lora_expert.hpp"
#include "everlora/adapters/expert_bank.hpp"
#include "everlora/adapters/gates.hpp"
#include "everlora/adapters/combiners/combiner.hpp"
#include "everlora/adapters/combiners/sum.hpp"
#include "everlora/adapters/combiners/attention_mixer.hpp"
#include "everlora/adapters/combiners/example_router.hpp"
#include "everlora/adapters/combiners/shared_attention_router.hpp"
#include "everlora/adapters/combiners/domain_router.hpp"
#include "everlora/adapters/lora_linear_op.hpp"
#include "everlora/adapters/routed_lora_op.hpp"
#include "everlora/adapters/adapted_linear.hpp"
#include "everlora/adapters/attach.hpp"

#endif  // EVERLORA_ADAPTERS_HPP
