// everlora — the one place that includes Eigen.
// GCC 12 reports "used uninitialized" inside Eigen 3.4's AVX-512 packing code (_mm512_undefined_ps,
// a false positive: GCC bug 105593) when users compile with -march=native and -Werror. The warning
// is silenced for Eigen's own headers only, so users' -Werror builds keep working.
#ifndef EVERLORA_CORE_DETAIL_EIGEN_HPP
#define EVERLORA_CORE_DETAIL_EIGEN_HPP

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Core>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // EVERLORA_CORE_DETAIL_EIGEN_HPP
