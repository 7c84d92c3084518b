// everlora — BatchShard: one process's part of data-parallel training (docs/distributed.md).
// Every process runs the same strategy on the same global batch; each computes the model only on
// its part of the batch (every `parts`-th example from position `part`, as PyTorch's
// DistributedSampler splits a shuffled order), and the processes average their gradients.
// For that average to be the single-process gradient, a batch mean computed on a part must be
// weighted by its share of the whole batch: a part holding n_p of the batch's n units contributes
//   parts · (n_p / n) · mean_part   =   parts · Σ_part / n,
// and the mean over the parts of these is Σ_all / n, the whole batch's mean. The unit differs per
// mean (BatchMean): the loss's target tokens, the real rows of a hidden state (I-LoRA's
// consistency), or every row the model ran, padding included (AM-LoRA's gate L1; text parts are
// padded to the whole batch's length so that their rows are the whole batch's rows).
#ifndef EVERLORA_CONTINUAL_BATCH_SHARD_HPP
#define EVERLORA_CONTINUAL_BATCH_SHARD_HPP

#include <string>
#include <utility>
#include <vector>

#include "everlora/core/error.hpp"
#include "everlora/core/shape.hpp"

namespace everlora {

/// What a batch mean divides by.
enum class BatchMean {
  loss_terms,  ///< the task loss's terms: target tokens (text) or examples (images)
  real_rows,   ///< rows of a hidden state that hold a real token (or an example)
  all_rows,    ///< every row of the forward pass, padding included
};

/// The factor of each kind of batch mean (see the file comment); all 1 for a whole batch.
struct ShardWeights {
  double loss_terms = 1, real_rows = 1, all_rows = 1;
  double of(BatchMean mean) const {
    return mean == BatchMean::loss_terms ? loss_terms : mean == BatchMean::real_rows ? real_rows : all_rows;
  }
};

/// How many units of each kind a batch (or a part of one) holds.
struct BatchCounts {
  double loss_terms = 0, real_rows = 0, all_rows = 0;
};

/// One process's part of every batch (`part` of `parts`, 0-based).
struct BatchShard {
  Index part = 0;
  Index parts = 1;

  bool whole() const { return parts == 1; }
  /// Error(config) unless 0 <= part < parts.
  void check() const {
    if (parts < 1 || part < 0 || part >= parts)
      throw Error(ErrorKind::config, "BatchShard: part " + std::to_string(part) + " of " + std::to_string(parts) +
                                         " (needs 0 <= part < parts)");
  }
  /// The items of a batch this part computes: positions part, part + parts, … Error(config) when
  /// the batch has fewer items than there are parts (a part would be empty).
  template <class Item>
  std::vector<Item> of(const std::vector<Item>& batch) const {
    if (static_cast<Index>(batch.size()) < parts)
      throw Error(ErrorKind::config, "a batch of " + std::to_string(batch.size()) + " examples cannot be split over " +
                                         std::to_string(parts) + " processes (make the batch at least that large)");
    std::vector<Item> mine;
    for (std::size_t i = static_cast<std::size_t>(part); i < batch.size(); i += static_cast<std::size_t>(parts)) mine.push_back(batch[i]);
    return mine;
  }
  /// The contiguous range [begin, end) of `count` items (a split's examples when scoring) this
  /// part takes; the parts cover the items once, and differ in size by one at most.
  std::pair<Index, Index> range(Index count) const {
    return {count * part / parts, count * (part + 1) / parts};
  }
  /// parts · part_count / whole_count: the weight of a mean over `part_count` of the batch's
  /// `whole_count` units (1 for a whole batch, and when the batch has none of them).
  double weight(double part_count, double whole_count) const {
    return whole() || whole_count <= 0 ? 1.0 : static_cast<double>(parts) * part_count / whole_count;
  }
  /// The weight of each kind of mean over a part holding `mine` of the batch's `all` units.
  ShardWeights weights(const BatchCounts& mine, const BatchCounts& all) const {
    return {weight(mine.loss_terms, all.loss_terms), weight(mine.real_rows, all.real_rows), weight(mine.all_rows, all.all_rows)};
  }
};

/// Hits out of a total (examples, or tokens for next-byte accuracy): a score that sums over the
/// parts of a split.
struct ScoreTally {
  double hits = 0, total = 0;
  /// 100 · hits / total; Error(value) for an empty tally.
  double percent() const {
    if (total <= 0) throw Error(ErrorKind::value, "ScoreTally: nothing was scored (total " + std::to_string(total) + ")");
    return 100.0 * hits / total;
  }
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_BATCH_SHARD_HPP
