// everlora — fingerprints: a 64-bit FNV-1a hash of bytes, and of a model's parameters (names,
// shapes and values), written as 16 hex digits. Run checkpoints and PEFT adapters record their
// base model's, so that they are never resumed or loaded on another base.
#ifndef EVERLORA_IO_FINGERPRINT_HPP
#define EVERLORA_IO_FINGERPRINT_HPP

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "everlora/nn/module.hpp"

namespace everlora {

/// FNV-1a, 64 bits: `hash` continued over `n` bytes at `data` (start from the default).
inline std::uint64_t fnv1a64(const void* data, std::size_t n, std::uint64_t hash = 0xcbf29ce484222325ULL) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) hash = (hash ^ p[i]) * 0x100000001b3ULL;
  return hash;
}
inline std::uint64_t fnv1a64(std::string_view bytes, std::uint64_t hash = 0xcbf29ce484222325ULL) {
  return fnv1a64(bytes.data(), bytes.size(), hash);
}

/// `hash` as 16 lowercase hex digits.
inline std::string hex64(std::uint64_t hash) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

/// The fingerprint of named parameters: each one's path, shape and values (as float32, so a float
/// and a double copy of a model share it, and so do a float and a bf16 one of a BF16 checkpoint),
/// in order.
template <class T>
std::string parameters_fingerprint(const std::vector<std::pair<std::string, Tensor<T>>>& parameters) {
  std::uint64_t hash = fnv1a64(std::string_view("everlora-parameters"));
  for (const auto& [name, p] : parameters) {
    hash = fnv1a64(name, hash);
    hash = fnv1a64(p.shape().str(), hash);
    const bool bf16 = p.held_in_bf16();  // its float values, decoded one at a time
    for (Index i = 0; i < p.numel(); ++i) {
      const auto value = bf16 ? detail::bfloat16_to_float(p.bf16_data()[i]) : static_cast<float>(p[i]);
      hash = fnv1a64(&value, sizeof value, hash);
    }
  }
  return hex64(hash);
}

/// The fingerprint of every parameter of `model`.
template <class T>
std::string model_fingerprint(const Module<T>& model) {
  return parameters_fingerprint(model.named_parameters());
}

}  // namespace everlora

#endif  // EVERLORA_IO_FINGERPRINT_HPP
