// everlora — the caching allocator behind every tensor's storage.
//
// A training step frees and reallocates the same activation and gradient buffers every step. Left
// to malloc, large blocks go back to the kernel and return as fresh pages that fault in and are
// zeroed again on every step (measured: about a sixth of the reference LoRA step). The pool keeps
// freed large blocks and hands them out again by size class, so a steady training loop allocates
// from the kernel only in its first step.
//
//   everlora::memory_stats()              // bytes in use, bytes cached, hits, misses
//   everlora::set_memory_cache_limit(n)   // cap on cached (free) bytes; 0 disables caching
//   everlora::release_cached_memory()     // give every cached block back to the system
//
// Blocks below kPoolMinBytes go straight to the system allocator (malloc already caches those).
// Size classes: 8 per power of two, so a reused block wastes at most 1/8 of its size.
#ifndef EVERLORA_CORE_MEMORY_HPP
#define EVERLORA_CORE_MEMORY_HPP

#include <cstddef>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

namespace everlora {

/// What the tensor memory pool holds now (bytes) and how often it could reuse a block.
struct MemoryStats {
  std::size_t bytes_in_use = 0;  ///< pooled-size blocks handed out and not yet freed
  std::size_t bytes_cached = 0;  ///< freed blocks kept for reuse
  std::size_t cache_limit = 0;   ///< cap on bytes_cached
  std::size_t hits = 0;          ///< allocations served from the cache
  std::size_t misses = 0;        ///< allocations that went to the system
};

namespace detail {

class MemoryPool {
 public:
  static constexpr std::size_t kAlignment = 64;            // one cache line, any SIMD width
  static constexpr std::size_t kPoolMinBytes = 64 * 1024;  // malloc serves smaller blocks well

  static MemoryPool& instance() {
    // Never destroyed: tensors held in static storage may be freed after any static pool would be.
    static MemoryPool* pool = new MemoryPool();
    return *pool;
  }

  /// Size class of a request: rounded up so that 8 classes cover each power of two.
  static std::size_t size_class(std::size_t bytes) {
    if (bytes < kPoolMinBytes) return (bytes + kAlignment - 1) / kAlignment * kAlignment;
    std::size_t top = 1;
    while (top * 2 <= bytes) top *= 2;
    const std::size_t step = top / 8;
    return (bytes + step - 1) / step * step;
  }

  void* allocate(std::size_t bytes) {
    const std::size_t size = size_class(bytes == 0 ? 1 : bytes);
    if (size >= kPoolMinBytes) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end()) {
        void* p = it->second;
        free_.erase(it);
        stats_.bytes_cached -= size;
        stats_.bytes_in_use += size;
        ++stats_.hits;
        return p;
      }
      ++stats_.misses;
      stats_.bytes_in_use += size;
    }
    void* p = std::aligned_alloc(kAlignment, size);
    if (p == nullptr) {
      release_cached();  // the cache may be what stands between us and the memory we need
      p = std::aligned_alloc(kAlignment, size);
    }
    if (p == nullptr) {
      if (size >= kPoolMinBytes) {
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.bytes_in_use -= size;
      }
      throw std::bad_alloc();
    }
    return p;
  }

  void deallocate(void* p, std::size_t bytes) noexcept {
    if (p == nullptr) return;
    const std::size_t size = size_class(bytes == 0 ? 1 : bytes);
    if (size >= kPoolMinBytes) {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.bytes_in_use -= size;
      if (stats_.bytes_cached + size <= stats_.cache_limit) {
        free_.emplace(size, p);
        stats_.bytes_cached += size;
        return;
      }
    }
    std::free(p);
  }

  void release_cached() noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, p] : free_) std::free(p);
    free_.clear();
    stats_.bytes_cached = 0;
  }

  void set_cache_limit(std::size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.cache_limit = bytes;
      if (stats_.bytes_cached <= bytes) return;
    }
    release_cached();
  }

  MemoryStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  MemoryPool() { stats_.cache_limit = std::size_t(2) << 30; }  // 2 GiB of free blocks at most

  mutable std::mutex mutex_;
  std::multimap<std::size_t, void*> free_;  // size class → cached block
  MemoryStats stats_;
};

}  // namespace detail

/// The tensor memory pool's current figures.
inline MemoryStats memory_stats() { return detail::MemoryPool::instance().stats(); }

/// Caps the bytes of freed blocks kept for reuse (default 2 GiB); 0 turns caching off. Lowering
/// the cap below what is cached releases the whole cache.
inline void set_memory_cache_limit(std::size_t bytes) {
  detail::MemoryPool::instance().set_cache_limit(bytes);
}

/// Returns every cached block to the system (tensors in use are untouched).
inline void release_cached_memory() { detail::MemoryPool::instance().release_cached(); }

}  // namespace everlora

#endif  // EVERLORA_CORE_MEMORY_HPP
