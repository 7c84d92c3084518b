// core_gemm — GFLOP/s of everlora's matmul beside the machine's peak.
//
// The peak is measured by this binary: every thread runs independent chains of vector FMAs
// (12 accumulators hide the FMA latency), so it is the ceiling any GEMM here can approach.
// Then matmul on square sizes 256–2048 and on the two LoRA shapes of the reference workload
// (M×K×N = 1024×512×8, the down-projection x·Aᵀ, and 1024×8×512, the up-projection) and of its
// MLP (1024×512×2048 and 1024×2048×512), each the median of --repeats runs. Run: build/benchmarks/core_gemm [--quick] [--threads N]
#include <cstdio>

#include "bench_common.hpp"
#include "everlora/core.hpp"  // before <immintrin.h>: see core/detail/eigen.hpp

#include <immintrin.h>

namespace {

/// Peak single-precision GFLOP/s of this machine's FMA units on all threads.
double fma_peak_gflops(long iterations) {
  constexpr int kChains = 12;
#if defined(__AVX512F__)
  using Vec = __m512;
  constexpr int kLanes = 16;
  auto fma = [](Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); };
  auto splat = [](float v) { return _mm512_set1_ps(v); };
  auto first_lane = [](Vec v) { return _mm512_cvtss_f32(v); };
#elif defined(__AVX2__) && defined(__FMA__)
  using Vec = __m256;
  constexpr int kLanes = 8;
  auto fma = [](Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); };
  auto splat = [](float v) { return _mm256_set1_ps(v); };
  auto first_lane = [](Vec v) { return _mm256_cvtss_f32(v); };
#else
  using Vec = float;
  constexpr int kLanes = 1;
  auto fma = [](Vec a, Vec b, Vec c) { return a * b + c; };
  auto splat = [](float v) { return v; };
  auto first_lane = [](Vec v) { return v; };
#endif
  const int threads = everlora::num_threads();
  volatile float sink = 0;
  const double seconds = bench::median_seconds(
      [&] {
#pragma omp parallel num_threads(threads)
        {
          Vec acc[kChains];
          for (int c = 0; c < kChains; ++c) acc[c] = splat(0.001f * static_cast<float>(c));
          const Vec scale = splat(0.999999f), shift = splat(1e-7f);
          for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
            for (int c = 0; c < kChains; ++c) acc[c] = fma(acc[c], scale, shift);
          }
          float total = 0;
          for (int c = 0; c < kChains; ++c) total += first_lane(acc[c]);
#pragma omp atomic
          sink += total;
        }
      },
      1, 5);
  (void)sink;
  const double flops = 2.0 * kLanes * kChains * static_cast<double>(iterations) * threads;
  return flops / seconds * 1e-9;
}

struct GemmCase {
  const char* kind;
  everlora::Index m, k, n;
};

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(
      argc, argv,
      "core_gemm: GFLOP/s of everlora::matmul (float) on square and LoRA shapes, beside the\n"
      "machine's FMA peak measured by the same binary.");
  const int threads = everlora::num_threads();
  const double peak = fma_peak_gflops(args.quick ? 2000000L : 20000000L);
  bench::emit({{"bench", "core_gemm"}, {"case", "fma_peak"}, {"gflops", peak}, {"threads", threads}});
  std::fprintf(stderr, "core_gemm  threads %d   FMA peak %.1f GFLOP/s\n", threads, peak);
  std::fprintf(stderr, "%-8s %6s %6s %6s %10s %9s %8s\n", "case", "M", "K", "N", "ms median",
               "GFLOP/s", "of peak");

  std::vector<GemmCase> cases = {{"square", 256, 256, 256}, {"square", 512, 512, 512}};
  if (!args.quick) {
    cases.push_back({"square", 1024, 1024, 1024});
    cases.push_back({"square", 2048, 2048, 2048});
    cases.push_back({"mlp_up", 1024, 512, 2048});
    cases.push_back({"mlp_down", 1024, 2048, 512});
  }
  cases.push_back({"lora_A", 1024, 512, 8});
  cases.push_back({"lora_B", 1024, 8, 512});

  everlora::NoGrad no_graph;
  everlora::Rng rng(1);
  for (const auto& c : cases) {
    const auto a = everlora::Tensor<float>::normal({c.m, c.k}, rng, 0.0f, 1.0f);
    const auto b = everlora::Tensor<float>::normal({c.k, c.n}, rng, 0.0f, 1.0f);
    const double flops = 2.0 * static_cast<double>(c.m * c.k * c.n);
    // Small products are timed in batches so each timed run lasts well above the clock's noise.
    const int inner = std::max(1, static_cast<int>(2e8 / flops));
    const double seconds = bench::median_seconds(
                               [&] {
                                 for (int i = 0; i < inner; ++i) everlora::matmul(a, b);
                               },
                               args.warmup, args.repeats) /
                           inner;
    const double gflops = flops / seconds * 1e-9;
    bench::emit({{"bench", "core_gemm"}, {"case", c.kind}, {"m", c.m}, {"k", c.k}, {"n", c.n},
                 {"ms_median", seconds * 1e3}, {"gflops", gflops}, {"of_peak", gflops / peak},
                 {"threads", threads}});
    std::fprintf(stderr, "%-8s %6td %6td %6td %10.3f %9.1f %7.0f%%\n", c.kind, c.m, c.k, c.n,
                 seconds * 1e3, gflops, 100.0 * gflops / peak);
  }
  std::fprintf(stderr, "peak RSS %.0f MB\n", bench::peak_rss_mb());
  return 0;
}
