// everlora — a small, fully specified random number generator.
// std::normal_distribution differs between standard libraries, so everlora draws its own numbers:
// SplitMix64 for the stream (fast, passes BigCrush when used as a counter), Box–Muller for normals.
// Seeded runs are reproducible on every platform and thread count.
#ifndef EVERLORA_CORE_RANDOM_HPP
#define EVERLORA_CORE_RANDOM_HPP

#include <cmath>
#include <cstdint>

#include "everlora/config.hpp"

namespace everlora {

namespace detail {

/// SplitMix64's output function: a bijective 64-bit mixer (Steele, Lea, Flood 2014).
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// The top 53 bits of `bits` as a uniform number in [0, 1).
inline double unit_double(std::uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

}  // namespace detail

/// Seeded generator. Copyable: a copy continues the same stream independently.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0x5eed) : state_(seed) {}

  /// Next 64 random bits.
  std::uint64_t next_u64() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return detail::mix64(state_);
  }
  /// Uniform in [0, 1).
  double uniform() { return detail::unit_double(next_u64()); }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n), n ≥ 1 (scaled 53-bit uniform: bias below 2^-20 for n < 2^32).
  std::uint64_t below(std::uint64_t n) {
    const auto k = static_cast<std::uint64_t>(uniform() * static_cast<double>(n));
    return k < n ? k : n - 1;
  }
  /// Standard normal (Box–Muller, one value per call).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925 * u2);
  }
  double normal(double mean, double stddev) { return mean + stddev * normal(); }

  /// The state, to save and restore a run exactly.
  std::uint64_t state() const { return state_; }
  void set_state(std::uint64_t state) { state_ = state; }

 private:
  std::uint64_t state_;
};

}  // namespace everlora

#endif  // EVERLORA_CORE_RANDOM_HPP
