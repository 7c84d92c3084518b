// everlora benchmarks — what every benchmark binary shares: flags (--quick, --repeats, --threads,
// --help), median timing after warm-up, peak RSS, and the output protocol of BENCHMARKS.md
// (one JSON object per measurement on stdout, a human table on stderr).
#ifndef EVERLORA_BENCHMARKS_BENCH_COMMON_HPP
#define EVERLORA_BENCHMARKS_BENCH_COMMON_HPP

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "everlora/core/detail/gemm.hpp"
#include "everlora/core/parallel.hpp"

namespace bench {

struct Args {
  bool quick = false;  // a few seconds, to prove the binary works (ctest label bench-smoke)
  int repeats = 10;    // timed runs per measurement; the median is reported
  int warmup = 3;
  int threads = 0;     // 0: OMP_NUM_THREADS / all cores
};

/// Parses the common flags; prints `usage` plus the common flags and exits on --help.
inline Args parse_args(int argc, char** argv, const std::string& usage) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> int {
      if (i + 1 >= argc) {
        std::cerr << "error: " << a << " needs a value\n";
        std::exit(2);
      }
      return std::atoi(argv[++i]);
    };
    if (a == "--quick") args.quick = true;
    else if (a == "--repeats") args.repeats = std::max(1, value());
    else if (a == "--warmup") args.warmup = std::max(0, value());
    else if (a == "--threads") args.threads = value();
    else if (a == "--help" || a == "-h") {
      std::cout << usage << "\n\nCommon flags:\n"
                << "  --quick        a few seconds, to check that the benchmark runs\n"
                << "  --repeats N    timed runs per measurement, median reported (default 10)\n"
                << "  --warmup N     untimed runs first (default 3)\n"
                << "  --threads N    threads (default: OMP_NUM_THREADS or all cores)\n"
                << "Output: one JSON object per line on stdout, a table on stderr.\n";
      std::exit(0);
    } else {
      std::cerr << "error: unknown flag " << a << " (see --help)\n";
      std::exit(2);
    }
  }
  if (args.quick) {
    args.repeats = std::min(args.repeats, 3);
    args.warmup = std::min(args.warmup, 1);
  }
  if (args.threads > 0) everlora::set_num_threads(args.threads);
  return args;
}

/// Median wall time in seconds of `repeats` calls of fn after `warmup` untimed calls.
template <class F>
double median_seconds(F&& fn, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  const std::size_t n = times.size();
  return n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
}

/// Seconds from `start` until now.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Peak resident set size of this process so far, in MB.
inline double peak_rss_mb() {
  // VmHWM of /proc/self/status, which reset_peak_rss() can lower; getrusage where it is missing.
  if (std::FILE* status = std::fopen("/proc/self/status", "r")) {
    char line[256];
    long kib = -1;
    while (std::fgets(line, sizeof line, status))
      if (std::sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    std::fclose(status);
    if (kib >= 0) return static_cast<double>(kib) / 1024.0;
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

/// Starts a new peak for peak_rss_mb() (Linux: "5" to /proc/self/clear_refs), so that runs in one
/// process each report their own peak. Returns false where that is not possible.
inline bool reset_peak_rss() {
  std::FILE* refs = std::fopen("/proc/self/clear_refs", "w");
  if (!refs) return false;
  const bool ok = std::fputs("5", refs) >= 0;
  return std::fclose(refs) == 0 && ok;
}

/// The non-empty items of a comma-separated list ("a,b,,c" → a, b, c).
inline std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

/// Writes one measurement as a JSON line on stdout (flushed, so pipes see it at once).
/// Every record names the GEMM back end it was built with ("cblas" or "eigen").
inline void emit(nlohmann::json record) {
  record["gemm"] = everlora::detail::gemm_backend();
  std::cout << record.dump() << std::endl;
}

}  // namespace bench

#endif  // EVERLORA_BENCHMARKS_BENCH_COMMON_HPP
