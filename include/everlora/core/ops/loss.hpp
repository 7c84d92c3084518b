// everlora — losses with autograd: cross-entropy fused with log-softmax (with an ignore index),
// mean squared error, and mean absolute error (L1).
//   cross_entropy: L = (1/N') Σ_{r counted} −log softmax(z_r)[t_r];  dz_r = (softmax(z_r) − 1_{t_r}) / N'
// where N' counts the rows whose target is not ignore_index.
#ifndef EVERLORA_CORE_OPS_LOSS_HPP
#define EVERLORA_CORE_OPS_LOSS_HPP

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "everlora/core/detail/loops.hpp"
#include "everlora/core/ops/activations.hpp"
#include "everlora/core/ops/elementwise.hpp"
#include "everlora/core/ops/reduce.hpp"
#include "everlora/core/ops/softmax.hpp"

namespace everlora {

/// The default target value that cross_entropy skips (PyTorch's convention).
constexpr std::int32_t kIgnoreIndex = -100;

/// Mean cross-entropy of logits [.., C] against one class id per row (targets.size() = rows).
/// Rows whose target equals ignore_index are skipped; if all are, the loss is 0.
template <class T>
Tensor<T> cross_entropy(const Tensor<T>& logits, const std::vector<std::int32_t>& targets,
                        std::int32_t ignore_index = kIgnoreIndex) {
  const Index rows = logits.shape().rows(), cols = logits.shape().last();
  if (logits.rank() < 1 || static_cast<Index>(targets.size()) != rows)
    throw Error(ErrorKind::shape, "cross_entropy: logits " + logits.shape().str() + " have " +
                                      std::to_string(rows) + " rows but " +
                                      std::to_string(targets.size()) + " targets were given");
  Index counted = 0;
  for (Index r = 0; r < rows; ++r) {
    const std::int32_t t = targets[static_cast<std::size_t>(r)];
    if (t == ignore_index) continue;
    if (t < 0 || t >= cols)
      throw Error(ErrorKind::index, "cross_entropy: target " + std::to_string(t) + " at row " +
                                        std::to_string(r) + " is outside 0.." +
                                        std::to_string(cols - 1));
    ++counted;
  }
  // Keep the log-probabilities: the loss reads them and backward turns them into softmax.
  auto logp = std::make_shared<detail::Buffer<T>>(rows * cols);
  detail::log_softmax_rows(logits.data(), logp->data(), rows, cols);
  T total = 0;
  for (Index r = 0; r < rows; ++r) {
    const std::int32_t t = targets[static_cast<std::size_t>(r)];
    if (t != ignore_index) total -= (*logp)[r * cols + t];
  }
  const T inv = counted > 0 ? T(1) / static_cast<T>(counted) : T(0);
  Tensor<T> loss = Tensor<T>::scalar(total * inv);
  if (detail::needs_grad(logits))
    detail::record(loss, "cross_entropy", {logits},
                   [logits, targets, logp, rows, cols, inv, ignore_index](const T* dy) {
                     T* gz = detail::grad_ptr(logits);
                     const T scale = dy[0] * inv;
                     parallel_for(rows, 16, [&](Index r0, Index r1) {
                       for (Index r = r0; r < r1; ++r) {
                         const std::int32_t t = targets[static_cast<std::size_t>(r)];
                         if (t == ignore_index) continue;
                         auto g = detail::VecMap<T>(gz + r * cols, cols).array();
                         g += scale * detail::ConstVecMap<T>(logp->data() + r * cols, cols)
                                          .array()
                                          .exp();
                         gz[r * cols + t] -= scale;
                       }
                     });
                   });
  return loss;
}

/// Mean squared error: mean((a − b)²). Shapes must match.
template <class T>
Tensor<T> mse_loss(const Tensor<T>& a, const Tensor<T>& b) {
  if (a.shape() != b.shape())
    throw Error(ErrorKind::shape, "mse_loss: a " + a.shape().str() + " and b " + b.shape().str() +
                                      " differ");
  const Tensor<T> d = a - b;
  return mean(d * d);
}

/// Mean absolute error: mean(|a − b|). Shapes must match.
template <class T>
Tensor<T> l1_loss(const Tensor<T>& a, const Tensor<T>& b) {
  if (a.shape() != b.shape())
    throw Error(ErrorKind::shape, "l1_loss: a " + a.shape().str() + " and b " + b.shape().str() +
                                      " differ");
  return mean(abs(a - b));
}

}  // namespace everlora

#endif  // EVERLORA_CORE_OPS_LOSS_HPP
