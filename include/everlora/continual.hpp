// everlora — continual learning: the strategy seam, the baselines, workloads and the trainer.
//   #include <everlora/continual.hpp>
#ifndef EVERLORA_CONTINUAL_HPP
#define EVERLORA_CONTINUAL_HPP

#include "everlora/continual/workload.hpp"
#include "everlora/continual/strategy.hpp"
#include "everlora/continual/strategy_state.hpp"
#include "everlora/continual/replay_buffer.hpp"
#include "everlora/continual/seq_lora.hpp"
#include "everlora/continual/inc_lora.hpp"
#include "everlora/continual/o_lora.hpp"
#include "everlora/continual/ella.hpp"
#include "everlora/continual/replay.hpp"
#include "everlora/continual/mtl.hpp"
#include "everlora/continual/am_lora.hpp"
#include "everlora/continual/jump_lora.hpp"
#include "everlora/continual/slow_weights.hpp"
#include "everlora/continual/i_lora.hpp"
#include "everlora/continual/connectivity.hpp"
#include "everlora/continual/example_routing.hpp"
#include "everlora/continual/sapt.hpp"
#include "everlora/continual/moa.hpp"
#include "everlora/continual/registry.hpp"
#include "everlora/continual/run_checkpoint.hpp"
#include "everlora/continual/trainer.hpp"
#include "everlora/continual/text_workload.hpp"
#include "everlora/continual/image_workload.hpp"

#endif  // EVERLORA_CONTINUAL_HPP
