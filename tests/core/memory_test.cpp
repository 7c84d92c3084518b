// The tensor memory pool: size classes, reuse of freed blocks, the cache cap, alignment, and that
// tensors really draw from it.
#include <catch2/catch.hpp>

#include <cstdint>
#include <thread>
#include <vector>

#include "everlora/core.hpp"

using namespace everlora;
using detail::MemoryPool;

namespace {
// Restores the default cap and empties the cache whatever a test did.
struct PoolGuard {
  std::size_t limit = memory_stats().cache_limit;
  PoolGuard() { release_cached_memory(); }
  ~PoolGuard() {
    set_memory_cache_limit(limit);
    release_cached_memory();
  }
};
}  // namespace

TEST_CASE("Size classes round up by at most an eighth and are monotone", "[core][memory]") {
  std::size_t previous = 0;
  for (std::size_t bytes = MemoryPool::kPoolMinBytes; bytes < (std::size_t(64) << 20); bytes = bytes * 9 / 8 + 17) {
    const std::size_t c = MemoryPool::size_class(bytes);
    CHECK(c >= bytes);
    CHECK(c - bytes <= bytes / 8);
    CHECK(c >= previous);
    CHECK(MemoryPool::size_class(c) == c);  // a class is its own class
    previous = c;
  }
  CHECK(MemoryPool::size_class(100) % MemoryPool::kAlignment == 0);
}

TEST_CASE("A freed large block is handed out again and counted as a hit", "[core][memory]") {
  PoolGuard guard;
  auto& pool = MemoryPool::instance();
  const std::size_t bytes = 1 << 20;
  const MemoryStats before = memory_stats();
  void* first = pool.allocate(bytes);
  CHECK(reinterpret_cast<std::uintptr_t>(first) % MemoryPool::kAlignment == 0);
  pool.deallocate(first, bytes);
  CHECK(memory_stats().bytes_cached == MemoryPool::size_class(bytes));
  void* second = pool.allocate(bytes - 100);  // same size class
  CHECK(second == first);
  const MemoryStats after = memory_stats();
  CHECK(after.hits == before.hits + 1);
  CHECK(after.misses == before.misses + 1);
  CHECK(after.bytes_cached == 0);
  pool.deallocate(second, bytes - 100);
}

TEST_CASE("The cache cap bounds what is kept and a cap of 0 turns caching off", "[core][memory]") {
  PoolGuard guard;
  auto& pool = MemoryPool::instance();
  const std::size_t bytes = 256 * 1024;
  set_memory_cache_limit(MemoryPool::size_class(bytes));  // room for exactly one block
  void* a = pool.allocate(bytes);
  void* b = pool.allocate(bytes);
  pool.deallocate(a, bytes);
  pool.deallocate(b, bytes);  // over the cap: goes back to the system
  CHECK(memory_stats().bytes_cached == MemoryPool::size_class(bytes));
  set_memory_cache_limit(0);
  CHECK(memory_stats().bytes_cached == 0);
  void* c = pool.allocate(bytes);
  pool.deallocate(c, bytes);
  CHECK(memory_stats().bytes_cached == 0);
}

TEST_CASE("A training-like loop of tensors reuses its buffers after the first step", "[core][memory]") {
  PoolGuard guard;
  Rng rng(3);
  Tensor<float> w = Tensor<float>::normal(Shape{256, 256}, rng, 0.f, 0.05f).requires_grad_();
  const auto step = [&] {
    Tensor<float> x = Tensor<float>::normal(Shape{128, 256}, rng, 0.f, 1.f);
    Tensor<float> loss = mean(gelu(matmul_nt(x, w)));
    loss.backward();
    w.zero_grad();
  };
  step();
  const MemoryStats warm = memory_stats();
  for (int i = 0; i < 3; ++i) step();
  const MemoryStats after = memory_stats();
  CHECK(after.misses == warm.misses);  // every large buffer came from the cache
  CHECK(after.hits > warm.hits);
  CHECK(after.bytes_in_use == warm.bytes_in_use);
}

TEST_CASE("The pool is safe to use from several threads at once", "[core][memory]") {
  PoolGuard guard;
  const MemoryStats before = memory_stats();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t] {
      auto& pool = MemoryPool::instance();
      for (int i = 0; i < 200; ++i) {
        const std::size_t bytes = MemoryPool::kPoolMinBytes * static_cast<std::size_t>(1 + (i + t) % 5);
        auto* p = static_cast<unsigned char*>(pool.allocate(bytes));
        p[0] = p[bytes - 1] = static_cast<unsigned char>(i);
        pool.deallocate(p, bytes);
      }
    });
  for (auto& thread : threads) thread.join();
  CHECK(memory_stats().bytes_in_use == before.bytes_in_use);
}
