// everlora — bfloat16: the storage of a frozen base held at half a float's size.
// bfloat16 is the upper 16 bits of an IEEE float (8 exponent bits, 7 mantissa bits), so decoding is
// exact and encoding is a rounding of the mantissa. Bf16Buffer is the pooled, aligned array behind
// a tensor held in bf16 (Tensor<float>::hold_in_bf16); decode_bf16 / encode_bf16 convert runs of
// values, in parallel for long runs.
#ifndef EVERLORA_CORE_DETAIL_BF16_HPP
#define EVERLORA_CORE_DETAIL_BF16_HPP

#include <cstdint>
#include <cstring>
#include <utility>

#include "everlora/config.hpp"
#include "everlora/core/memory.hpp"
#include "everlora/core/parallel.hpp"

namespace everlora::detail {

inline float float_from_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

/// bfloat16 → float, exactly: bfloat16 is the upper half of a float. NaN is made quiet.
inline float bfloat16_to_float(std::uint16_t b) {
  std::uint32_t bits = std::uint32_t(b) << 16;
  if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x7FFFFFu) != 0) bits |= 0x400000u;
  return float_from_bits(bits);
}

/// float → bfloat16, rounded to nearest-even (as PyTorch's .to(torch.bfloat16)); NaN stays a
/// quiet NaN, and values past bfloat16's range round to ±inf.
inline std::uint16_t float_to_bfloat16(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  const std::uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
  const std::uint32_t quiet_nan = (bits >> 16) | 0x40u;
  // A select rather than a branch, so that loops over it vectorise.
  return static_cast<std::uint16_t>((bits & 0x7FFFFFFFu) > 0x7F800000u ? quiet_nan : rounded);
}

/// out[i] = float(in[i]) for n values (the shift-only form, which vectorises; a stored weight is
/// finite, so no NaN needs quieting).
inline void decode_bf16(const std::uint16_t* in, Index n, float* out) {
  parallel_for(n, 1 << 16, [&](Index first, Index last) {
    for (Index i = first; i < last; ++i) out[i] = float_from_bits(std::uint32_t(in[i]) << 16);
  });
}

/// out[i] = bfloat16(in[i]), rounded to nearest-even, for n values.
inline void encode_bf16(const float* in, Index n, std::uint16_t* out) {
  parallel_for(n, 1 << 16, [&](Index first, Index last) {
    for (Index i = first; i < last; ++i) out[i] = float_to_bfloat16(in[i]);
  });
}

/// An owned, 64-byte-aligned array of n bfloat16 values from the tensor memory pool.
class Bf16Buffer {
 public:
  explicit Bf16Buffer(Index n) : size_(n) {
    if (n > 0) data_ = static_cast<std::uint16_t*>(MemoryPool::instance().allocate(bytes()));
  }
  Bf16Buffer(const Bf16Buffer&) = delete;
  Bf16Buffer& operator=(const Bf16Buffer&) = delete;
  ~Bf16Buffer() {
    if (data_ != nullptr) MemoryPool::instance().deallocate(data_, bytes());
  }

  std::uint16_t* data() { return data_; }
  const std::uint16_t* data() const { return data_; }
  Index size() const { return size_; }

 private:
  std::size_t bytes() const { return static_cast<std::size_t>(size_) * sizeof(std::uint16_t); }

  std::uint16_t* data_ = nullptr;
  Index size_ = 0;
};

}  // namespace everlora::detail

#endif  // EVERLORA_CORE_DETAIL_BF16_HPP
