// everlora — products with a bf16 weight on the CPU's bf16 instructions, through oneDNN's matmul
// primitive: C (float) = A (float, rounded to bf16) · op(B) (bf16) [+ C], the sums in float, on
// AMX where the CPU has it and AVX512-BF16 otherwise. The rows of A are a run-time dimension, so
// one primitive per weight shape serves every batch and sequence length.
//
// Only with EVERLORA_USE_ONEDNN. gemm_tensor_b (gemm_bf16.hpp) calls it when everlora's
// Bf16Products policy is `fast` and onednn_bf16_isa() names an ISA; otherwise the weight is
// decoded to float panels (exact, and about as fast as a float weight).
#ifndef EVERLORA_CORE_DETAIL_GEMM_ONEDNN_BF16_HPP
#define EVERLORA_CORE_DETAIL_GEMM_ONEDNN_BF16_HPP

#ifdef EVERLORA_USE_ONEDNN

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include <oneapi/dnnl/dnnl.hpp>

#include "everlora/core/detail/bf16.hpp"
#include "everlora/core/error.hpp"

namespace everlora::detail {

/// The ISA oneDNN runs bf16 products on ("avx512_core_amx", "avx512_core_bf16"), or nullptr when
/// the CPU has no bf16 dot-product instructions (oneDNN would then emulate them, slower than float).
inline const char* onednn_bf16_isa() {
  const auto isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  const auto has = [isa](dnnl_cpu_isa_t wanted) { return (isa & unsigned(wanted)) == unsigned(wanted); };
  if (has(dnnl_cpu_isa_avx512_core_amx)) return "avx512_core_amx";
  if (has(dnnl_cpu_isa_avx512_core_bf16)) return "avx512_core_bf16";
  return nullptr;
}

/// The matmul primitives, one per (n, k, layout of B, ldb, ldc, accumulate), made on first use.
class OnednnBf16Matmuls {
 public:
  static OnednnBf16Matmuls& instance() {
    static OnednnBf16Matmuls matmuls;
    return matmuls;
  }

  /// C[m, n] (row stride ldc) = A_bf16[m, k] (dense) · op(B) + (accumulate ? C : 0); op(B) is
  /// [k, n], B stored [n, k] when trans_b, else [k, n], with row stride ldb.
  void run(Index m, Index n, Index k, const std::uint16_t* a, bool trans_b, const std::uint16_t* b, Index ldb,
           bool accumulate, float* c, Index ldc) {
    try {
      const Key key{n, k, trans_b, ldb, ldc, accumulate};
      // One product at a time: the primitives share oneDNN's scratchpad. (The callers, a model's
      // linear layers, run outside parallel regions, so this serialises nothing in practice.)
      const std::lock_guard<std::mutex> lock(mutex_);
      auto it = primitives_.find(key);
      if (it == primitives_.end()) it = primitives_.emplace(key, make(key)).first;
      using dt = dnnl::memory::data_type;
      const dnnl::memory src({{m, k}, dt::bf16, {k, 1}}, engine_, const_cast<std::uint16_t*>(a));
      const dnnl::memory weights(weights_desc(key), engine_, const_cast<std::uint16_t*>(b));
      const dnnl::memory dst({{m, n}, dt::f32, {ldc, 1}}, engine_, c);
      it->second.execute(stream_, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
      stream_.wait();
    } catch (const dnnl::error& e) {
      throw Error(ErrorKind::shape, "gemm (bf16): oneDNN's matmul refused [" + std::to_string(m) + ", " +
                                        std::to_string(k) + "] x [" + std::to_string(k) + ", " + std::to_string(n) +
                                        "]: " + e.what());
    }
  }

 private:
  using Key = std::tuple<Index, Index, bool, Index, Index, bool>;  // n, k, trans_b, ldb, ldc, accumulate

  OnednnBf16Matmuls() : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {}

  static dnnl::memory::desc weights_desc(const Key& key) {
    const auto [n, k, trans_b, ldb, ldc, accumulate] = key;
    const dnnl::memory::dims strides = trans_b ? dnnl::memory::dims{1, ldb} : dnnl::memory::dims{ldb, 1};
    return {{k, n}, dnnl::memory::data_type::bf16, strides};
  }

  dnnl::matmul make(const Key& key) const {
    const auto [n, k, trans_b, ldb, ldc, accumulate] = key;
    using dt = dnnl::memory::data_type;
    constexpr dnnl::memory::dim rows = DNNL_RUNTIME_DIM_VAL;
    dnnl::primitive_attr attr;
    if (accumulate) {
      dnnl::post_ops sum;
      sum.append_sum(1.0f);
      attr.set_post_ops(sum);
    }
    const dnnl::matmul::desc desc({{rows, k}, dt::bf16, {k, 1}}, weights_desc(key), {{rows, n}, dt::f32, {ldc, 1}});
    return dnnl::matmul(dnnl::matmul::primitive_desc(desc, attr, engine_));
  }

  dnnl::engine engine_;
  dnnl::stream stream_;
  std::mutex mutex_;
  std::map<Key, dnnl::matmul> primitives_;
};

}  // namespace everlora::detail

#endif  // EVERLORA_USE_ONEDNN
#endif  // EVERLORA_CORE_DETAIL_GEMM_ONEDNN_BF16_HPP
