// everlora — ReplayBuffer: a reservoir of past training examples (Vitter's algorithm R).
// After n offers, each offered example is in the buffer with probability capacity / n, whatever
// the order of the stream; the buffer holds references, the examples stay in the workload.
#ifndef EVERLORA_CONTINUAL_REPLAY_BUFFER_HPP
#define EVERLORA_CONTINUAL_REPLAY_BUFFER_HPP

#include <algorithm>
#include <string>
#include <vector>

#include "everlora/continual/workload.hpp"
#include "everlora/core/error.hpp"
#include "everlora/core/random.hpp"

namespace everlora {

class ReplayBuffer {
 public:
  explicit ReplayBuffer(Index capacity, std::uint64_t seed = 1) : capacity_(capacity), rng_(seed) {
    if (capacity < 1)
      throw Error(ErrorKind::config, "ReplayBuffer: capacity " + std::to_string(capacity) + " < 1");
  }

  /// Offers one example: kept while there is room, then in place of a random slot with
  /// probability capacity / (examples offered so far).
  void offer(const ExampleRef& example) {
    ++seen_;
    if (static_cast<Index>(items_.size()) < capacity_) {
      items_.push_back(example);
      return;
    }
    const auto slot = static_cast<Index>(rng_.below(static_cast<std::uint64_t>(seen_)));
    if (slot < capacity_) items_[static_cast<std::size_t>(slot)] = example;
  }
  void offer(const std::vector<ExampleRef>& examples) {
    for (const auto& e : examples) offer(e);
  }

  /// `count` distinct examples drawn uniformly (all of them, shuffled, when count ≥ size()).
  std::vector<ExampleRef> sample(Index count) {
    std::vector<ExampleRef> pool = items_;
    const Index take = std::min<Index>(count, static_cast<Index>(pool.size()));
    for (Index i = 0; i < take; ++i) {  // partial Fisher–Yates
      const auto j = i + static_cast<Index>(rng_.below(static_cast<std::uint64_t>(static_cast<Index>(pool.size()) - i)));
      std::swap(pool[static_cast<std::size_t>(i)], pool[static_cast<std::size_t>(j)]);
    }
    pool.resize(static_cast<std::size_t>(take));
    return pool;
  }

  const std::vector<ExampleRef>& items() const { return items_; }
  Index size() const { return static_cast<Index>(items_.size()); }
  Index capacity() const { return capacity_; }
  bool empty() const { return items_.empty(); }
  /// Examples offered so far.
  long seen() const { return seen_; }
  /// The generator's state (with items() and seen(), all a checkpoint needs).
  std::uint64_t rng_state() const { return rng_.state(); }

  /// Puts back a state read from a checkpoint. Throws Error(format) when it cannot be this
  /// buffer's: more items than the capacity, or fewer offers than items.
  void restore(std::vector<ExampleRef> items, long seen, std::uint64_t rng_state) {
    if (static_cast<Index>(items.size()) > capacity_ || seen < static_cast<long>(items.size()))
      throw Error(ErrorKind::format, "ReplayBuffer: a saved state of " + std::to_string(items.size()) + " items after " +
                                         std::to_string(seen) + " offers does not fit a buffer of capacity " +
                                         std::to_string(capacity_));
    items_ = std::move(items);
    seen_ = seen;
    rng_.set_state(rng_state);
  }

 private:
  Index capacity_;
  Rng rng_;
  std::vector<ExampleRef> items_;
  long seen_ = 0;
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_REPLAY_BUFFER_HPP
