// everlora — optimizers and their helpers: SGD, AdamW, learning-rate schedules, gradient clipping.
//   #include <everlora/optim.hpp>
// @sa docs/concepts/optim.md
#ifndef EVERLORA_OPTIM_HPP
#define EVERLORA_OPTIM_HPP

#include "everlora/optim/optimizer.hpp"
#include "everlora/optim/sgd.hpp"
#include "everlora/optim/adamw.hpp"
#include "everlora/optim/schedule.hpp"
#include "everlora/optim/clip.hpp"

#endif  // EVERLORA_OPTIM_HPP
