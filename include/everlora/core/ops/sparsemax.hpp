// everlora — sparsemax over the last axis, with autograd (Martins & Astudillo 2016, "From Softmax
// to Sparsemax"): the Euclidean projection of a row onto the probability simplex, so small scores
// get exactly zero weight.
//   forward:  sort z descending, k = max{k : 1 + k·z_(k) > Σ_{j≤k} z_(j)},
//             τ = (Σ_{j≤k} z_(j) − 1) / k,  p = max(z − τ, 0)               (eq. 2–3 of the paper)
//   backward: on the support S = {i : p_i > 0}, dz_i = dp_i − (Σ_{j∈S} dp_j) / |S|; 0 elsewhere
//             (the Jacobian diag(s) − s·sᵀ/|S| of eq. 10, s the support indicator)
#ifndef EVERLORA_CORE_OPS_SPARSEMAX_HPP
#define EVERLORA_CORE_OPS_SPARSEMAX_HPP

#include <algorithm>
#include <functional>
#include <vector>

#include "everlora/core/detail/loops.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

namespace detail {

/// p[r, :] = sparsemax(z[r, :]) for `rows` rows of length `cols`.
template <class T>
void sparsemax_rows(const T* z, T* p, Index rows, Index cols) {
  parallel_for(rows, std::max<Index>(1, 1024 / std::max<Index>(1, cols)), [&](Index r0, Index r1) {
    std::vector<T> sorted(static_cast<std::size_t>(cols));
    for (Index r = r0; r < r1; ++r) {
      const T* in = z + r * cols;
      std::copy_n(in, cols, sorted.begin());
      std::sort(sorted.begin(), sorted.end(), std::greater<T>());
      T cumulative = 0, tau = sorted[0] - T(1);  // k = 1 always qualifies
      for (Index k = 1; k <= cols; ++k) {
        cumulative += sorted[static_cast<std::size_t>(k - 1)];
        if (T(1) + static_cast<T>(k) * sorted[static_cast<std::size_t>(k - 1)] > cumulative)
          tau = (cumulative - T(1)) / static_cast<T>(k);
      }
      for (Index c = 0; c < cols; ++c) p[r * cols + c] = std::max(in[c] - tau, T(0));
    }
  });
}

}  // namespace detail

/// Sparsemax over the last axis: rows become points of the probability simplex, with exact zeros.
template <class T>
Tensor<T> sparsemax(const Tensor<T>& z) {
  if (z.rank() < 1 || z.shape().last() < 1)
    throw Error(ErrorKind::shape, "sparsemax: input " + z.shape().str() + " has no last axis to normalise");
  const Index rows = z.shape().rows(), cols = z.shape().last();
  Tensor<T> p = Tensor<T>::empty(z.shape());
  detail::sparsemax_rows(z.data(), p.data(), rows, cols);
  if (detail::needs_grad(z)) {
    auto p_data = p.impl()->data;
    detail::record(p, "sparsemax", {z}, [z, p_data, rows, cols](const T* dp) {
      T* gz = detail::grad_ptr(z);
      const T* pp = p_data->data();
      parallel_for(rows, 64, [&](Index r0, Index r1) {
        for (Index r = r0; r < r1; ++r) {
          T support_sum = 0;
          Index support = 0;
          for (Index c = 0; c < cols; ++c)
            if (pp[r * cols + c] > T(0)) support_sum += dp[r * cols + c], ++support;
          const T mean = support > 0 ? support_sum / static_cast<T>(support) : T(0);
          for (Index c = 0; c < cols; ++c)
            if (pp[r * cols + c] > T(0)) gz[r * cols + c] += dp[r * cols + c] - mean;
        }
      });
    });
  }
  return p;
}

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_SPARSEMAX_HPP
