// everlora — wall-clock timing on the monotonic clock, and durations printed as people read them.
//   Timer t;  ...;  std::printf("%.3f s\n", t.seconds());
//   format_duration(3725.0) == "1:02:05"
#ifndef EVERLORA_UTIL_TIMER_HPP
#define EVERLORA_UTIL_TIMER_HPP

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

namespace everlora {

/// Seconds on the monotonic (steady) clock since an arbitrary fixed point.
inline double monotonic_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

/// A stopwatch on the monotonic clock, started at construction.
class Timer {
 public:
  Timer() : start_(monotonic_seconds()) {}
  /// Restarts from zero.
  void reset() { start_ = monotonic_seconds(); }
  /// Seconds since construction or the last reset().
  double seconds() const { return monotonic_seconds() - start_; }
  double milliseconds() const { return 1e3 * seconds(); }

 private:
  double start_;
};

/// "M:SS" below an hour, "H:MM:SS" from an hour on, rounded to the nearest second; "?:??" for a
/// negative or non-finite duration.
inline std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0.0) return "?:??";
  const long long total = std::llround(seconds);
  const long long h = total / 3600, m = (total / 60) % 60, s = total % 60;
  char buf[48];
  if (h > 0)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", h, m, s);
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", m, s);
  return buf;
}

}  // namespace everlora

#endif  // EVERLORA_UTIL_TIMER_HPP
