// everlora — compile-time configuration shared by every header.
// EVERLORA_ASSERT guards internal invariants of inner kernels only (compiled out under NDEBUG);
// everything a user can get wrong is checked at the public boundary and throws everlora::Error.
#ifndef EVERLORA_CONFIG_HPP
#define EVERLORA_CONFIG_HPP

#include <cassert>
#include <cstddef>

#ifdef NDEBUG
#define EVERLORA_ASSERT(cond) ((void)0)
#else
#define EVERLORA_ASSERT(cond) assert(cond)
#endif

namespace everlora {

/// Signed index type used for sizes and offsets everywhere (the same as Eigen::Index).
using Index = std::ptrdiff_t;

}  // namespace everlora

#endif  // EVERLORA_CONFIG_HPP
