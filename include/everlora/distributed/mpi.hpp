// everlora — MPI for data-parallel training (docs/distributed.md): MpiSession starts and ends MPI
// in a program, MpiCommunicator is the trainer's Communicator over an MPI communicator.
//   everlora::MpiSession mpi(argc, argv);
//   everlora::MpiCommunicator world;                 // MPI_COMM_WORLD
//   options.communicator = &world;                   // TrainerOptions: the run is data-parallel
// Needs MPI's headers and library: link the CMake target everlora::mpi (-DEVERLORA_MPI=ON).
// Every MPI failure becomes Error(io) naming the call and MPI's own message.
#ifndef EVERLORA_DISTRIBUTED_MPI_HPP
#define EVERLORA_DISTRIBUTED_MPI_HPP

#if !__has_include(<mpi.h>)
#error "everlora/distributed/mpi.hpp needs MPI: link the CMake target everlora::mpi (configure with -DEVERLORA_MPI=ON)"
#endif

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "everlora/core/error.hpp"
#include "everlora/distributed/communicator.hpp"

namespace everlora {

namespace detail {

/// Error(io) unless `code` is MPI_SUCCESS.
inline void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(ErrorKind::io, std::string(call) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

}  // namespace detail

/// MPI for the lifetime of the object: MPI_Init_thread (funneled: only the thread that started MPI
/// calls it; OpenMP's threads never do) and MPI_Finalize. MPI's errors return codes instead of
/// aborting, so that they become Errors. One per program.
class MpiSession {
 public:
  MpiSession(int& argc, char**& argv) {
    int provided = 0;
    detail::check_mpi(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (provided < MPI_THREAD_FUNNELED) {
      MPI_Finalize();
      throw Error(ErrorKind::config, "this MPI library does not support MPI_THREAD_FUNNELED, which OpenMP threads need");
    }
  }
  ~MpiSession() { MPI_Finalize(); }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  /// Ends every process of the job with `code` (after an error on one of them, which would leave
  /// the others waiting in a collective). Does not return.
  [[noreturn]] static void abort(int code) {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::abort();  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }
};

/// The Communicator over an MPI communicator (MPI_COMM_WORLD by default, not owned).
class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD) : comm_(comm) {
    int rank = 0, size = 0;
    detail::check_mpi(MPI_Comm_rank(comm_, &rank), "MPI_Comm_rank");
    detail::check_mpi(MPI_Comm_size(comm_, &size), "MPI_Comm_size");
    rank_ = rank, size_ = size;
  }
  Index rank() const override { return rank_; }
  Index size() const override { return size_; }
  std::vector<std::uint64_t> allgather(std::uint64_t value) override {
    std::vector<std::uint64_t> all(static_cast<std::size_t>(size_));
    detail::check_mpi(MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, comm_), "MPI_Allgather");
    return all;
  }
  void barrier() override { detail::check_mpi(MPI_Barrier(comm_), "MPI_Barrier"); }

 protected:
  void reduce_sum(float* data, std::size_t count) override { sum(data, count, MPI_FLOAT); }
  void reduce_sum(double* data, std::size_t count) override { sum(data, count, MPI_DOUBLE); }

 private:
  /// In place, in pieces of at most INT_MAX values (MPI's counts are ints).
  template <class T>
  void sum(T* data, std::size_t count, MPI_Datatype type) {
    constexpr auto kMaxCount = static_cast<std::size_t>(std::numeric_limits<int>::max());
    for (std::size_t done = 0; done < count; done += kMaxCount) {
      const std::size_t n = std::min(kMaxCount, count - done);
      detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, data + done, static_cast<int>(n), type, MPI_SUM, comm_), "MPI_Allreduce");
    }
  }

  MPI_Comm comm_;
  Index rank_ = 0, size_ = 1;
};

}  // namespace everlora

#endif  // EVERLORA_DISTRIBUTED_MPI_HPP
