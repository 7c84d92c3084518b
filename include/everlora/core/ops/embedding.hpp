// everlora — embedding lookup with autograd: rows of a table selected by integer ids.
//   weight [V, D], ids (any shape S, flattened) → [S.., D];  dweight[id] += dy[row of id]
// A frozen table may be held in bf16: the rows looked up are decoded.
#ifndef EVERLORA_CORE_OPS_EMBEDDING_HPP
#define EVERLORA_CORE_OPS_EMBEDDING_HPP

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "everlora/core/detail/loops.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

/// Looks up `ids` (laid out with shape `ids_shape`, rank ≤ 3) in `weight` [V, D].
template <class T>
Tensor<T> embedding(const Tensor<T>& weight, const std::vector<std::int32_t>& ids,
                    const Shape& ids_shape) {
  if (weight.rank() != 2)
    throw Error(ErrorKind::shape, "embedding: weight must be [V, D], got " + weight.shape().str());
  if (static_cast<Index>(ids.size()) != ids_shape.numel())
    throw Error(ErrorKind::shape, "embedding: " + std::to_string(ids.size()) +
                                      " ids do not fill shape " + ids_shape.str());
  const Index vocab = weight.dim(0), dim = weight.dim(1), n = ids_shape.numel();
  for (Index i = 0; i < n; ++i) {
    const std::int32_t id = ids[static_cast<std::size_t>(i)];
    if (id < 0 || id >= vocab)
      throw Error(ErrorKind::index, "embedding: id " + std::to_string(id) + " at position " +
                                        std::to_string(i) + " is outside the table of " +
                                        std::to_string(vocab) + " rows");
  }
  Shape out = ids_shape;
  out.push_back(dim);
  Tensor<T> y = Tensor<T>::empty(out);
  T* py = y.data();
  if (weight.held_in_bf16()) {  // a frozen table held in bf16: decode the rows looked up
    const std::uint16_t* pw = weight.bf16_data();
    parallel_for(n, 64, [&](Index i0, Index i1) {
      for (Index i = i0; i < i1; ++i)
        if constexpr (std::is_same_v<T, float>) detail::decode_bf16(pw + ids[static_cast<std::size_t>(i)] * dim, dim, py + i * dim);
    });
  } else {
    const T* pw = weight.data();
    parallel_for(n, 64, [&](Index i0, Index i1) {
      for (Index i = i0; i < i1; ++i)
        std::copy_n(pw + ids[static_cast<std::size_t>(i)] * dim, dim, py + i * dim);
    });
  }
  if (detail::needs_grad(weight))
    detail::record(y, "embedding", {weight}, [weight, ids, n, dim](const T* dy) {
      T* gw = detail::grad_ptr(weight);
      // Serial over positions: repeated ids add into the same row in a fixed order.
      for (Index i = 0; i < n; ++i)
        detail::VecMap<T>(gw + ids[static_cast<std::size_t>(i)] * dim, dim) +=
            detail::ConstVecMap<T>(dy + i * dim, dim);
    });
  return y;
}

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_EMBEDDING_HPP
