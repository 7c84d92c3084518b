// everlora — Communicator: the collective operations data-parallel training needs (docs/distributed.md).
// The trainer talks to the other processes only through this interface: MpiCommunicator
// (distributed/mpi.hpp, target everlora::mpi) implements it over MPI; a single process needs none.
// Every call is collective: each process of the group makes the same calls in the same order with
// the same counts.
#ifndef EVERLORA_DISTRIBUTED_COMMUNICATOR_HPP
#define EVERLORA_DISTRIBUTED_COMMUNICATOR_HPP

#include <cstddef>
#include <cstdint>
#include <vector>

#include "everlora/core/shape.hpp"

namespace everlora {

class Communicator {
 public:
  virtual ~Communicator() = default;
  /// This process's number, 0 .. size() − 1. Process 0 alone writes reports and checkpoints.
  virtual Index rank() const = 0;
  /// The number of processes.
  virtual Index size() const = 0;
  /// Sums `count` values elementwise over the processes; every process gets the sums, in place.
  void allreduce_sum(float* data, std::size_t count) {
    reduce_sum(data, count);
    counted(count * sizeof(float));
  }
  void allreduce_sum(double* data, std::size_t count) {
    reduce_sum(data, count);
    counted(count * sizeof(double));
  }
  /// Every process's `value`, in rank order.
  virtual std::vector<std::uint64_t> allgather(std::uint64_t value) = 0;
  /// Returns once every process has called it.
  virtual void barrier() = 0;

  /// Bytes this process has passed to allreduce_sum so far (each call's payload once).
  std::uint64_t bytes_reduced() const { return bytes_reduced_; }
  /// How many allreduce_sum calls this process has made.
  std::uint64_t reductions() const { return reductions_; }

 protected:
  virtual void reduce_sum(float* data, std::size_t count) = 0;
  virtual void reduce_sum(double* data, std::size_t count) = 0;

 private:
  void counted(std::size_t bytes) {
    bytes_reduced_ += bytes;
    ++reductions_;
  }
  std::uint64_t bytes_reduced_ = 0;
  std::uint64_t reductions_ = 0;
};

}  // namespace everlora

#endif  // EVERLORA_DISTRIBUTED_COMMUNICATOR_HPP
