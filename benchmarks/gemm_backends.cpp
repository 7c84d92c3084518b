// gemm_backends — the float GEMM back ends side by side on the products of the reference LoRA
// workload (BENCHMARKS.md: 1024 tokens, d_model 512, MLP 2048, vocab 256, rank 8), to choose
// detail::gemm's back end by measurement (docs/performance.md):
//   eigen         Eigen's own GEMM
//   openblas      cblas_sgemm (built with EVERLORA_USE_BLAS; its kernels follow OPENBLAS_CORETYPE)
//   onednn        dnnl_sgemm with oneDNN's own threading (built with EVERLORA_USE_ONEDNN)
//   everlora      detail::gemm as built (with oneDNN: row panels, one per thread)
// Every back end's result is checked against Eigen's. Run: build/benchmarks/gemm_backends
#include <cmath>
#include <cstdio>
#include <functional>

#include "bench_common.hpp"
#include "everlora/core.hpp"

namespace {

using everlora::Index;

struct Product {
  const char* name;  ///< where the workload runs it
  bool trans_a, trans_b;
  Index m, n, k;
};

// The base products are x·Wᵀ (forward) and dY·W (input gradient); the rank-8 ones the LoRA down
// and up projections and their weight gradients.
const Product kProducts[] = {
    {"attn x.W^T", false, true, 1024, 512, 512},   {"fc1 x.W^T", false, true, 1024, 2048, 512},
    {"fc2 x.W^T", false, true, 1024, 512, 2048},   {"head x.W^T", false, true, 1024, 256, 512},
    {"attn dY.W", false, false, 1024, 512, 512},   {"fc1 dY.W", false, false, 1024, 512, 2048},
    {"fc2 dY.W", false, false, 1024, 2048, 512},   {"lora x.A^T", false, true, 1024, 8, 512},
    {"lora u.B^T", false, true, 1024, 512, 8},     {"lora dA", true, false, 8, 512, 1024},
    {"lora dB", true, false, 512, 8, 1024},
};

using GemmFn = std::function<void(const Product&, const float*, const float*, float*)>;

void eigen_gemm(const Product& p, const float* a, const float* b, float* c) {
  using Map = Eigen::Map<const everlora::detail::RowMatrix<float>>;
  const Map A(a, p.trans_a ? p.k : p.m, p.trans_a ? p.m : p.k);
  const Map B(b, p.trans_b ? p.n : p.k, p.trans_b ? p.k : p.n);
  Eigen::Map<everlora::detail::RowMatrix<float>> C(c, p.m, p.n);
  if (p.trans_a && p.trans_b) C.noalias() = A.transpose() * B.transpose();
  else if (p.trans_a) C.noalias() = A.transpose() * B;
  else if (p.trans_b) C.noalias() = A * B.transpose();
  else C.noalias() = A * B;
}

Index lda(const Product& p) { return p.trans_a ? p.m : p.k; }
Index ldb(const Product& p) { return p.trans_b ? p.k : p.n; }

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(
      argc, argv,
      "gemm_backends: GFLOP/s of each float GEMM back end this build has (Eigen, OpenBLAS, oneDNN,\n"
      "and everlora's detail::gemm) on the products of the reference LoRA workload.");
  std::vector<std::pair<const char*, GemmFn>> backends = {{"eigen", eigen_gemm}};
#ifdef EVERLORA_USE_CBLAS
  backends.emplace_back("openblas", [](const Product& p, const float* a, const float* b, float* c) {
    cblas_sgemm(CblasRowMajor, p.trans_a ? CblasTrans : CblasNoTrans, p.trans_b ? CblasTrans : CblasNoTrans,
                static_cast<int>(p.m), static_cast<int>(p.n), static_cast<int>(p.k), 1.0f, a,
                static_cast<int>(lda(p)), b, static_cast<int>(ldb(p)), 0.0f, c, static_cast<int>(p.n));
  });
#endif
#ifdef EVERLORA_USE_ONEDNN
  backends.emplace_back("onednn", [](const Product& p, const float* a, const float* b, float* c) {
    everlora::detail::dnnl_sgemm_checked(p.trans_a, p.trans_b, p.m, p.n, p.k, 1.0f, a, lda(p), b, ldb(p),
                                         0.0f, c, p.n);
  });
#endif
  backends.emplace_back("everlora", [](const Product& p, const float* a, const float* b, float* c) {
    everlora::detail::gemm(p.trans_a, p.trans_b, p.m, p.n, p.k, 1.0f, a, lda(p), b, ldb(p), 0.0f, c, p.n);
  });

  const int threads = everlora::num_threads();
  std::fprintf(stderr, "gemm_backends  threads %d  (GFLOP/s, median of %d)\n%-12s %5s %5s %5s", threads,
               args.repeats, "product", "M", "N", "K");
  for (const auto& backend : backends) std::fprintf(stderr, " %9s", backend.first);
  std::fprintf(stderr, "\n");

  everlora::Rng rng(3);
  const std::size_t count = args.quick ? 2 : std::size(kProducts);
  std::vector<everlora::Tensor<float>> lhs, rhs;  // op(A) and op(B) have the same numel either layout
  for (std::size_t i = 0; i < count; ++i) {
    lhs.push_back(everlora::Tensor<float>::normal({kProducts[i].m, kProducts[i].k}, rng, 0.0f, 1.0f));
    rhs.push_back(everlora::Tensor<float>::normal({kProducts[i].k, kProducts[i].n}, rng, 0.0f, 1.0f));
  }
  // oneDNN generates a kernel the first time it meets a shape on a thread: one untimed pass of
  // every back end over every product first, so no column pays for that.
  for (std::size_t i = 0; i < count; ++i) {
    std::vector<float> c(static_cast<std::size_t>(kProducts[i].m * kProducts[i].n));
    for (int pass = 0; pass < 20; ++pass)
      for (const auto& backend : backends) backend.second(kProducts[i], lhs[i].data(), rhs[i].data(), c.data());
  }
  for (std::size_t i = 0; i < count; ++i) {
    const Product& p = kProducts[i];
    const auto& a = lhs[i];
    const auto& b = rhs[i];
    std::vector<float> reference(static_cast<std::size_t>(p.m * p.n)), c(reference.size());
    eigen_gemm(p, a.data(), b.data(), reference.data());
    const double flops = 2.0 * static_cast<double>(p.m * p.n * p.k);
    const int inner = std::max(1, static_cast<int>(1e8 / flops));  // timed runs well above the clock's noise
    std::fprintf(stderr, "%-12s %5td %5td %5td", p.name, p.m, p.n, p.k);
    for (const auto& [name, fn] : backends) {
      const double seconds =
          bench::median_seconds([&] { for (int r = 0; r < inner; ++r) fn(p, a.data(), b.data(), c.data()); },
                                args.warmup, args.repeats) / inner;
      double worst = 0;  // relative to the scale of an entry, √k
      for (std::size_t j = 0; j < c.size(); ++j) worst = std::max(worst, double(std::abs(c[j] - reference[j])));
      worst /= std::sqrt(static_cast<double>(p.k));
      if (worst > 1e-4) {
        std::fprintf(stderr, "\nerror: %s differs from Eigen by %.3g on %s\n", name, worst, p.name);
        return 1;
      }
      const double gflops = flops / seconds * 1e-9;
      bench::emit({{"bench", "gemm_backends"}, {"product", p.name}, {"backend", name}, {"m", p.m},
                   {"n", p.n}, {"k", p.k}, {"gflops", gflops}, {"threads", threads}});
      std::fprintf(stderr, " %9.1f", gflops);
    }
    std::fprintf(stderr, "\n");
  }
  return 0;
}
