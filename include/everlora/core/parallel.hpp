// everlora — threads. One place sets the thread count (OpenMP and Eigen's GEMM follow it), and
// parallel_for splits a row loop into contiguous chunks. OMP_NUM_THREADS is honoured by default.
// Work is split by index ranges, never by dynamic scheduling, so the same thread count always
// gives bitwise-identical results.
#ifndef EVERLORA_CORE_PARALLEL_HPP
#define EVERLORA_CORE_PARALLEL_HPP

#include "everlora/core/detail/eigen.hpp"
#include <algorithm>

#include "everlora/config.hpp"
#include "everlora/core/error.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace everlora {

/// Threads that parallel regions and GEMMs use (OMP_NUM_THREADS unless set_num_threads was called).
inline int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// Sets the thread count for everlora's loops and Eigen's GEMM. n must be ≥ 1.
inline void set_num_threads(int n) {
  if (n < 1) throw Error(ErrorKind::config, "set_num_threads: n = " + std::to_string(n) + " < 1");
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
  Eigen::setNbThreads(n);
}

namespace detail {

inline bool in_parallel_region() {
#ifdef _OPENMP
  return omp_in_parallel() != 0;
#else
  return false;
#endif
}

}  // namespace detail

/// Calls body(begin, end) on contiguous chunks covering [0, n). Runs serially when n < 2·grain,
/// or inside another parallel region (so nested loops and GEMMs never oversubscribe).
/// `grain` is the smallest chunk worth a thread (in iterations).
template <class Body>
void parallel_for(Index n, Index grain, Body&& body) {
  if (n <= 0) return;
  const Index max_chunks = std::max<Index>(1, n / std::max<Index>(1, grain));
  const Index chunks = std::min<Index>(num_threads(), max_chunks);
  if (chunks <= 1 || detail::in_parallel_region()) {
    body(Index{0}, n);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(static_cast<int>(chunks))
#endif
  for (Index c = 0; c < chunks; ++c) body(c * n / chunks, (c + 1) * n / chunks);
}

}  // namespace everlora

#endif  // EVERLORA_CORE_PARALLEL_HPP
