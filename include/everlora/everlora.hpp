// everlora — everything in one include:
//   #include <everlora/everlora.hpp>
// Convenient, and the slowest to compile: include a folder's umbrella (e.g. <everlora/core.hpp>)
// or single headers where compile time matters.
#ifndef EVERLORA_EVERLORA_HPP
#define EVERLORA_EVERLORA_HPP

#include "everlora/core.hpp"
#include "everlora/nn.hpp"
#include "everlora/optim.hpp"
#include "everlora/data.hpp"
#include "everlora/metrics.hpp"
#include "everlora/io.hpp"
#include "everlora/adapters.hpp"
#include "everlora/util.hpp"
#include "everlora/continual.hpp"

#endif  // EVERLORA_EVERLORA_HPP
