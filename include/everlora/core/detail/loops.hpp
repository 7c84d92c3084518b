// everlora — reduction kernels shared by ops and their backward passes.
// Every sum runs over its elements in a fixed order that does not depend on the thread count,
// so results are bitwise reproducible.
#ifndef EVERLORA_CORE_DETAIL_LOOPS_HPP
#define EVERLORA_CORE_DETAIL_LOOPS_HPP

#include "everlora/core/detail/eigen.hpp"
#include <vector>

#include "everlora/config.hpp"
#include "everlora/core/detail/buffer.hpp"
#include "everlora/core/parallel.hpp"

namespace everlora::detail {

/// Sum of n values: fixed blocks of 4096 summed in parallel, then the partials in order.
template <class T>
T sum_all(const T* x, Index n) {
  constexpr Index kBlock = 4096;
  const Index blocks = (n + kBlock - 1) / kBlock;
  if (blocks <= 1) return n > 0 ? ConstVecMap<T>(x, n).sum() : T(0);
  std::vector<T> partial(static_cast<std::size_t>(blocks));
  parallel_for(blocks, 4, [&](Index b0, Index b1) {
    for (Index b = b0; b < b1; ++b) {
      const Index begin = b * kBlock, len = std::min(kBlock, n - begin);
      partial[static_cast<std::size_t>(b)] = ConstVecMap<T>(x + begin, len).sum();
    }
  });
  T total = 0;
  for (T p : partial) total += p;
  return total;
}

/// Reduces the middle axis of x viewed as [outer, len, inner]:
/// out[o, i] (+)= Σ_a x[o, a, i]. Overwrites out unless `accumulate`.
template <class T>
void sum_middle_axis(const T* x, Index outer, Index len, Index inner, T* out, bool accumulate) {
  auto reduce_block = [&](Index o, Index i0, Index i1) {
    VecMap<T> dst(out + o * inner + i0, i1 - i0);
    if (!accumulate) dst.setZero();
    for (Index a = 0; a < len; ++a) dst += ConstVecMap<T>(x + (o * len + a) * inner + i0, i1 - i0);
  };
  if (inner == 1) {  // row sums: contiguous
    parallel_for(outer, std::max<Index>(1, 4096 / std::max<Index>(1, len)), [&](Index o0, Index o1) {
      for (Index o = o0; o < o1; ++o) {
        const T s = len > 0 ? ConstVecMap<T>(x + o * len, len).sum() : T(0);
        out[o] = accumulate ? out[o] + s : s;
      }
    });
  } else if (outer == 1) {  // column sums: split the columns
    parallel_for(inner, 256, [&](Index i0, Index i1) { reduce_block(0, i0, i1); });
  } else {
    parallel_for(outer, std::max<Index>(1, 4096 / std::max<Index>(1, len * inner)),
                 [&](Index o0, Index o1) {
                   for (Index o = o0; o < o1; ++o) reduce_block(o, 0, inner);
                 });
  }
}

/// out[c] += Σ_r x[r, c] for x [rows, cols].
template <class T>
void add_column_sums(const T* x, Index rows, Index cols, T* out) {
  sum_middle_axis(x, 1, rows, cols, out, true);
}
/// out[r] += Σ_c x[r, c] for x [rows, cols].
template <class T>
void add_row_sums(const T* x, Index rows, Index cols, T* out) {
  sum_middle_axis(x, rows, cols, 1, out, true);
}

/// y[r, c] += v[c] for y [rows, cols]: a bias added to every row, in parallel chunks of rows.
template <class T>
void add_to_rows(T* y, Index rows, Index cols, const T* v) {
  const ConstVecMap<T> row_vector(v, cols);
  parallel_for(rows, std::max<Index>(1, 16384 / std::max<Index>(1, cols)), [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) VecMap<T>(y + r * cols, cols) += row_vector;
  });
}

/// Elementwise loop over n items in parallel chunks: body(i) for each i.
template <class Body>
void for_each_index(Index n, Body&& body) {
  parallel_for(n, 16384, [&](Index i0, Index i1) {
    for (Index i = i0; i < i1; ++i) body(i);
  });
}

}  // namespace everlora::detail

#endif  // EVERLORA_CORE_DETAIL_LOOPS_HPP
