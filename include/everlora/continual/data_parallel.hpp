// everlora — the trainer's side of data-parallel training (docs/distributed.md): with a
// Communicator of N processes, each computes its part of every batch (continual/batch_shard.hpp);
// after backward, one fused allreduce sums every trainable gradient, a has-gradient flag per
// parameter and the loss, and each process divides by N. Every process then clips and steps the
// same gradients, so the parameters, and everything strategies derive from them and from the
// global batch (replay buffers, routers, gates), stay identical on every process; the trainer
// checks that with a fingerprint after every task. Scores are tallied per part and summed.
#ifndef EVERLORA_CONTINUAL_DATA_PARALLEL_HPP
#define EVERLORA_CONTINUAL_DATA_PARALLEL_HPP

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "everlora/continual/strategy.hpp"
#include "everlora/continual/workload.hpp"
#include "everlora/core/autograd.hpp"
#include "everlora/distributed/communicator.hpp"
#include "everlora/io/fingerprint.hpp"

namespace everlora {
namespace detail {

/// Shards `workload` over `comm`'s processes for its lifetime (no-op without one, or with one of
/// a single process), and does the trainer's collective steps.
template <class T>
class DataParallel {
 public:
  DataParallel(Communicator* comm, Workload<T>& workload) : comm_(comm && comm->size() > 1 ? comm : nullptr), workload_(workload) {
    if (comm_) workload_.set_shard({comm_->rank(), comm_->size()});
  }
  ~DataParallel() {
    if (comm_) workload_.set_shard({});
  }
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  Workload<T>& workload() { return workload_; }
  Index processes() const { return comm_ ? comm_->size() : 1; }
  /// Whether this process writes checkpoints and shows progress (process 0, or the only one).
  bool writer() const { return !comm_ || comm_->rank() == 0; }

  /// Averages the gradients of `params` and the step's loss over the processes (one allreduce,
  /// whose bytes are added to `bytes`); returns the averaged loss. A parameter gets a gradient
  /// when any process has one for it.
  double average_gradients(const std::vector<Tensor<T>>& params, double loss, std::uint64_t& bytes) {
    if (!comm_) return loss;
    std::size_t size = params.size() + 1;
    for (const Tensor<T>& p : params) size += static_cast<std::size_t>(p.numel());
    buffer_.assign(size, T(0));
    T* at = buffer_.data() + params.size();
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Tensor<T>& p = params[i];
      if (p.has_grad()) {
        buffer_[i] = T(1);
        std::copy_n(p.impl()->grad->data(), p.numel(), at);
      }
      at += p.numel();
    }
    buffer_.back() = static_cast<T>(loss);
    comm_->allreduce_sum(buffer_.data(), buffer_.size());
    bytes += buffer_.size() * sizeof(T);
    const T scale = T(1) / static_cast<T>(comm_->size());
    at = buffer_.data() + params.size();
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (buffer_[i] > T(0)) {
        T* grad = grad_ptr(params[i]);
        for (Index k = 0; k < params[i].numel(); ++k) grad[k] = at[k] * scale;
      }
      at += params[i].numel();
    }
    return static_cast<double>(buffer_.back() * scale);
  }

  /// Score of every task on `split`: each process scores its part, the tallies are summed.
  std::vector<double> score_tasks(Split split) {
    const Index tasks = workload_.num_tasks();
    std::vector<double> scores;
    if (!comm_) {
      for (Index j = 0; j < tasks; ++j) scores.push_back(workload_.score(j, split));
      return scores;
    }
    std::vector<double> tallies;
    for (Index j = 0; j < tasks; ++j) {
      const ScoreTally t = workload_.score_part(j, split, workload_.shard());
      tallies.push_back(t.hits);
      tallies.push_back(t.total);
    }
    comm_->allreduce_sum(tallies.data(), tallies.size());
    for (Index j = 0; j < tasks; ++j)
      scores.push_back(ScoreTally{tallies[static_cast<std::size_t>(2 * j)], tallies[static_cast<std::size_t>(2 * j + 1)]}.percent());
    return scores;
  }

  /// Error(value) unless every process holds the same parameters and strategy state (bit for
  /// bit) `when` (e.g. "after task 2").
  void check_replicas_agree(const Strategy<T>& strategy, const std::string& when) {
    if (!comm_) return;
    const std::vector<std::uint64_t> all = comm_->allgather(state_hash(strategy));
    for (std::size_t r = 1; r < all.size(); ++r)
      if (all[r] != all[0])
        throw Error(ErrorKind::value, "data-parallel training: " + when + ", process " + std::to_string(r) + "'s model and strategy state (" +
                                          hex64(all[r]) + ") differ from process 0's (" + hex64(all[0]) +
                                          "); every process must run the same build with the same thread count on the same kind of CPU");
  }

 private:
  /// FNV-1a of every parameter's bytes and of the strategy's saved state.
  std::uint64_t state_hash(const Strategy<T>& strategy) {
    std::uint64_t hash = fnv1a64(std::string_view("everlora-replica"));
    for (const auto& [name, p] : workload_.model().named_parameters()) {
      hash = fnv1a64(name, hash);
      if (p.held_in_bf16())
        hash = fnv1a64(p.bf16_data(), static_cast<std::size_t>(p.numel()) * sizeof(std::uint16_t), hash);
      else
        hash = fnv1a64(p.data(), static_cast<std::size_t>(p.numel()) * sizeof(T), hash);
    }
    StrategyState<T> state;
    strategy.save_state(state);
    hash = fnv1a64(state.fields.dump(), hash);
    for (const auto& [name, t] : state.tensors) {
      hash = fnv1a64(name, hash);
      hash = fnv1a64(t.data(), static_cast<std::size_t>(t.numel()) * sizeof(T), hash);
    }
    return hash;
  }

  Communicator* comm_;
  Workload<T>& workload_;
  std::vector<T> buffer_;
};

}  // namespace detail
}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_DATA_PARALLEL_HPP
