// everlora — small utilities with no dependency on the rest of the library: timers and a progress
// bar.
//   #include <everlora/util.hpp>
#ifndef EVERLORA_UTIL_HPP
#define EVERLORA_UTIL_HPP

#include "everlora/util/timer.hpp"
#include "everlora/util/progress.hpp"

#endif  // EVERLORA_UTIL_HPP
