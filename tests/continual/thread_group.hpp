// everlora tests — a Communicator over threads of one process: data-parallel training without MPI.
// Each collective publishes every member's buffer, waits for all, and has every member sum the
// buffers itself in rank order (so all members get the same bits, run after run), then waits again
// before anyone overwrites its buffer.
#ifndef EVERLORA_TESTS_CONTINUAL_THREAD_GROUP_HPP
#define EVERLORA_TESTS_CONTINUAL_THREAD_GROUP_HPP

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "everlora/distributed/communicator.hpp"

namespace everlora_test {

using everlora::Index;

/// What the members of a group share: a barrier and one published pointer per member.
class ThreadGroup {
 public:
  explicit ThreadGroup(Index size) : size_(size), slots_(static_cast<std::size_t>(size), nullptr) {}
  Index size() const { return size_; }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    const std::uint64_t generation = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      all_arrived_.notify_all();
    } else {
      all_arrived_.wait(lock, [&] { return generation_ != generation; });
    }
  }
  void publish(Index rank, const void* data) { slots_[static_cast<std::size_t>(rank)] = data; }
  const void* slot(Index rank) const { return slots_[static_cast<std::size_t>(rank)]; }

 private:
  Index size_;
  std::vector<const void*> slots_;
  std::mutex mutex_;
  std::condition_variable all_arrived_;
  Index arrived_ = 0;
  std::uint64_t generation_ = 0;
};

class ThreadCommunicator : public everlora::Communicator {
 public:
  ThreadCommunicator(ThreadGroup& group, Index rank) : group_(group), rank_(rank) {}
  Index rank() const override { return rank_; }
  Index size() const override { return group_.size(); }
  std::vector<std::uint64_t> allgather(std::uint64_t value) override {
    std::vector<std::uint64_t> all;
    exchange(&value, [&] {
      for (Index r = 0; r < size(); ++r) all.push_back(*static_cast<const std::uint64_t*>(group_.slot(r)));
    });
    return all;
  }
  void barrier() override { group_.wait(); }

 protected:
  void reduce_sum(float* data, std::size_t count) override { sum(data, count); }
  void reduce_sum(double* data, std::size_t count) override { sum(data, count); }

 private:
  template <class T>
  void sum(T* data, std::size_t count) {
    std::vector<T> total(count, T(0));
    exchange(data, [&] {
      for (Index r = 0; r < size(); ++r) {
        const T* part = static_cast<const T*>(group_.slot(r));
        for (std::size_t i = 0; i < count; ++i) total[i] += part[i];
      }
    });
    std::copy(total.begin(), total.end(), data);
  }
  /// Publishes `mine`, runs `read` once every member has published, and returns once every member
  /// has read.
  void exchange(const void* mine, const std::function<void()>& read) {
    group_.publish(rank_, mine);
    group_.wait();
    read();
    group_.wait();
  }

  ThreadGroup& group_;
  Index rank_;
};

/// Runs `member(communicator)` on `size` threads, one group member each, and rethrows the first
/// member's exception.
inline void run_group(Index size, const std::function<void(everlora::Communicator&)>& member) {
  ThreadGroup group(size);
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(size));
  std::vector<std::thread> threads;
  for (Index r = 0; r < size; ++r)
    threads.emplace_back([&, r] {
      ThreadCommunicator comm(group, r);
      try {
        member(comm);
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace everlora_test

#endif  // EVERLORA_TESTS_CONTINUAL_THREAD_GROUP_HPP
