// everlora — Buffer<T>: an owned, 64-byte-aligned array from the tensor memory pool. The storage
// of every tensor's values and gradient, and of what ops keep for their backward pass.
#ifndef EVERLORA_CORE_DETAIL_BUFFER_HPP
#define EVERLORA_CORE_DETAIL_BUFFER_HPP

#include "everlora/core/detail/eigen.hpp"
#include <algorithm>
#include <utility>

#include "everlora/config.hpp"
#include "everlora/core/memory.hpp"

namespace everlora::detail {

template <class T>
using VecMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstVecMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;

template <class T>
class Buffer {
 public:
  Buffer() = default;
  /// n uninitialised values.
  explicit Buffer(Index n) : size_(n) {
    if (n > 0) data_ = static_cast<T*>(MemoryPool::instance().allocate(bytes()));
  }
  static Buffer zeros(Index n) {
    Buffer b(n);
    b.set_zero();
    return b;
  }
  Buffer(Buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { release(); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  Index size() const { return size_; }
  T& operator[](Index i) { return data_[i]; }
  const T& operator[](Index i) const { return data_[i]; }

  /// The values as an Eigen column vector (for vectorised expressions).
  VecMap<T> vec() { return VecMap<T>(data_, size_); }
  ConstVecMap<T> vec() const { return ConstVecMap<T>(data_, size_); }

  void set_constant(T value) { std::fill(data_, data_ + size_, value); }
  void set_zero() { set_constant(T(0)); }

 private:
  std::size_t bytes() const { return static_cast<std::size_t>(size_) * sizeof(T); }
  void release() noexcept {
    if (data_ != nullptr) MemoryPool::instance().deallocate(data_, bytes());
    data_ = nullptr;
  }

  T* data_ = nullptr;
  Index size_ = 0;
};

}  // namespace everlora::detail

#endif  // EVERLORA_CORE_DETAIL_BUFFER_HPP
