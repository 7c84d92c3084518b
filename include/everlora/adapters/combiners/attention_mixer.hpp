// everlora — AttentionMixer: AM-LoRA's per-token attention over the experts of one layer
// (arXiv 2409.19611; METHODS.md "AM-LoRA"). For a row x of the layer input and expert outputs
// e_i = s_i·(x̃·A_iᵀ)·B_iᵀ:
//   q = x·Wqᵀ,   k_i = e_i·Wk = s_i·(x̃·A_iᵀ)·(B_iᵀ·Wk),   u_i = q·k_i / √d_a,   g = G(u)
// and the layer adds Σ_i g_i·e_i. The key is computed from the rank-r activations, so e_i [N, out]
// is never formed (unless a gate made the layer form it: then the key is e_i·Wk itself). G is
// sigmoid (default), softmax or sparsemax; with a null expert a fixed score u_0 = 0 joins the row
// before G (its output is zero, so it only takes weight away from the others
// under softmax and sparsemax). The last forward's gates are kept for the L1 penalty and the
// statistics (AmLora strategy).
#ifndef EVERLORA_ADAPTERS_COMBINERS_ATTENTION_MIXER_HPP
#define EVERLORA_ADAPTERS_COMBINERS_ATTENTION_MIXER_HPP

#include <cmath>
#include <mutex>
#include <string>
#include <vector>

#include "everlora/adapters/combiners/combiner.hpp"
#include "everlora/core/ops/activations.hpp"
#include "everlora/core/ops/elementwise.hpp"
#include "everlora/core/ops/matmul.hpp"
#include "everlora/core/ops/reduce.hpp"
#include "everlora/core/ops/shape_ops.hpp"
#include "everlora/core/ops/softmax.hpp"
#include "everlora/core/ops/sparsemax.hpp"
#include "everlora/core/random.hpp"

namespace everlora {

/// The gate function G of AttentionMixer. L1 on a softmax row is constant (it sums to 1), so only
/// sigmoid responds to AM-LoRA's sparsity penalty; sparsemax is sparse without one.
enum class GateFunction { sigmoid, softmax, sparsemax };

inline const char* to_string(GateFunction g) {
  return g == GateFunction::sigmoid ? "sigmoid" : g == GateFunction::softmax ? "softmax" : "sparsemax";
}

/// "sigmoid", "softmax" or "sparsemax"; Error(config) naming the value otherwise.
inline GateFunction parse_gate_function(const std::string& name) {
  if (name == "sigmoid") return GateFunction::sigmoid;
  if (name == "softmax") return GateFunction::softmax;
  if (name == "sparsemax") return GateFunction::sparsemax;
  throw Error(ErrorKind::config, "gate function '" + name + "' is not one of sigmoid, softmax, sparsemax");
}

struct AttentionMixerConfig {
  Index attention_dim = 16;                   ///< d_a, the width of queries and keys
  GateFunction gate = GateFunction::sigmoid;  ///< G
  bool null_expert = false;                   ///< add the fixed score u_0 = 0 before G
};

template <class T>
class AttentionMixer : public Combiner<T> {
 public:
  /// A mixer for a layer in → out. Wq [d_a, in] and Wk [out, d_a] are normal with std 1/√in and
  /// 1/√d_a, so scores start at the scale of the inputs.
  AttentionMixer(Index in, Index out, const AttentionMixerConfig& config, Rng& rng) : config_(config) {
    if (config.attention_dim < 1)
      throw Error(ErrorKind::config, "AttentionMixer: attention_dim must be at least 1, got " + std::to_string(config.attention_dim));
    if (in < 1 || out < 1)
      throw Error(ErrorKind::config, "AttentionMixer: layer " + std::to_string(in) + " -> " + std::to_string(out) + " is empty");
    const T d = static_cast<T>(config.attention_dim);
    this->register_parameter("wq", wq_, Tensor<T>::normal({config.attention_dim, in}, rng, T(0), T(1) / std::sqrt(static_cast<T>(in))));
    this->register_parameter("wk", wk_, Tensor<T>::normal({out, config.attention_dim}, rng, T(0), T(1) / std::sqrt(d)));
  }
  const char* type_name() const override { return "AttentionMixer"; }
  bool mergeable() const override { return false; }
  const AttentionMixerConfig& config() const { return config_; }
  Tensor<T>& wq() { return wq_; }
  Tensor<T>& wk() { return wk_; }

  Tensor<T> weights(const CombinerInput<T>& in) override {
    const Index n = in.x.shape().rows(), features = in.x.shape().last();
    if (features != wq_.dim(1))
      throw Error(ErrorKind::shape, "AttentionMixer: input " + in.x.shape().str() + " does not end in " + std::to_string(wq_.dim(1)));
    const Tensor<T> x = reshape(in.x, {n, features});
    const Tensor<T> xa = reshape(in.x_adapter, {n, features});
    const Tensor<T> q = matmul_nt(x, wq_);  // [N, d_a]
    std::vector<Tensor<T>> scores;
    if (in.experts.size() > 0)
      scores.push_back(in.expert_outputs ? output_scores(q, *in.expert_outputs) : stacked_scores(q, xa, in.experts, in.rank_activations));
    if (config_.null_expert) scores.push_back(Tensor<T>::zeros({n, 1}));
    const Tensor<T> u = concat(scores, 1);
    Tensor<T> g = config_.gate == GateFunction::sigmoid   ? sigmoid(u)
                  : config_.gate == GateFunction::softmax ? softmax(u)
                                                          : sparsemax(u);
    if (config_.null_expert) g = slice(g, 1, 0, static_cast<Index>(in.experts.size()));
    {
      const std::lock_guard<std::mutex> lock(record_);  // inference may run from several threads
      last_gates_ = g;
      accumulate(g);
    }
    return g;
  }

  /// What the gates of the forward passes since the last reset_stats() looked like.
  struct GateStats {
    std::vector<double> gate_sum;  ///< per expert, summed over rows
    Index rows = 0;
    Index below_threshold = 0;  ///< gates < kSparseGate (AM-LoRA's sparsity measure)
    /// Mean gate of expert e (0 if no row was seen or the expert is newer than the stats).
    double mean_gate(std::size_t e) const { return rows > 0 && e < gate_sum.size() ? gate_sum[e] / static_cast<double>(rows) : 0.0; }
    /// Share of gates below kSparseGate, in [0, 1].
    double sparsity() const {
      const double all = static_cast<double>(rows) * static_cast<double>(gate_sum.size());
      return all > 0 ? static_cast<double>(below_threshold) / all : 0.0;
    }
  };
  static constexpr double kSparseGate = 0.01;
  const GateStats& stats() const { return stats_; }
  void reset_stats() { stats_ = GateStats{}; }

  /// The gates [N, experts] of the last forward pass (part of its graph while training), or
  /// undefined before the first. Under concurrent inference: some thread's last pass.
  const Tensor<T>& last_gates() const { return last_gates_; }

 private:
  void accumulate(const Tensor<T>& g) {
    const Index rows = g.dim(0), k = g.dim(1);
    if (static_cast<Index>(stats_.gate_sum.size()) != k) stats_ = GateStats{std::vector<double>(static_cast<std::size_t>(k), 0.0)};
    const T* p = g.data();
    for (Index r = 0; r < rows; ++r)
      for (Index e = 0; e < k; ++e) {
        stats_.gate_sum[static_cast<std::size_t>(e)] += static_cast<double>(p[r * k + e]);
        stats_.below_threshold += static_cast<double>(p[r * k + e]) < kSparseGate ? 1 : 0;
      }
    stats_.rows += rows;
  }

  /// 1/√d_a, the scale of every score.
  T inv_sqrt_d() const { return T(1) / std::sqrt(static_cast<T>(config_.attention_dim)); }

  /// u [N, K] from the rank-r activations of every expert at once (a fixed number of ops, whatever
  /// K): U = x̃·A_stackᵀ [N, R] and P = B_catᵀ·Wk [R, d_a] (R = Σ r_e), so k_e·q = s_e·U_e·(P_e·q)
  /// and u = (U ⊙ q·Pᵀ)·M, where M [R, K] holds s_e/√d_a in expert e's block of rows. U is left in
  /// `rank_activations` (if not null) for the layer's fused op.
  Tensor<T> stacked_scores(const Tensor<T>& q, const Tensor<T>& xa, ExpertBank<T>& experts,
                           Tensor<T>* rank_activations) const {
    std::vector<Tensor<T>> a_parts, b_parts;
    std::vector<Index> block_end;
    Index total_rank = 0;
    for (std::size_t e = 0; e < experts.size(); ++e) {
      a_parts.push_back(experts[e].a());
      b_parts.push_back(experts[e].b());
      total_rank += experts[e].a().dim(0);
      block_end.push_back(total_rank);
    }
    const Index k = static_cast<Index>(experts.size());
    std::vector<T> block_scale(static_cast<std::size_t>(total_rank * k), T(0));
    for (Index e = 0, row = 0; e < k; ++e)
      for (; row < block_end[static_cast<std::size_t>(e)]; ++row)
        block_scale[static_cast<std::size_t>(row * k + e)] = experts[static_cast<std::size_t>(e)].scale() * inv_sqrt_d();
    const Tensor<T> u_all = matmul_nt(xa, concat(a_parts, 0));                // U [N, R]
    const Tensor<T> key_proj = matmul_tn(concat(b_parts, 1), wk_);            // P [R, d_a]
    const Tensor<T> products = u_all * matmul_nt(q, key_proj);                // U ⊙ q·Pᵀ [N, R]
    if (rank_activations) *rank_activations = u_all;
    return matmul(products, Tensor<T>::from_vector({total_rank, k}, std::move(block_scale)));
  }

  /// u [N, K] from expert outputs a gate made the layer form: k_e = e_e·Wk.
  Tensor<T> output_scores(const Tensor<T>& q, const std::vector<Tensor<T>>& outputs) const {
    const Index n = q.dim(0);
    std::vector<Tensor<T>> scores;
    for (const Tensor<T>& output : outputs)
      scores.push_back(sum(q * matmul(reshape(output, {n, wk_.dim(0)}), wk_), 1, true) * inv_sqrt_d());
    return concat(scores, 1);
  }

  AttentionMixerConfig config_;
  Tensor<T> wq_, wk_;
  std::mutex record_;  ///< guards last_gates_ and stats_
  Tensor<T> last_gates_;
  GateStats stats_;
};

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_COMBINERS_ATTENTION_MIXER_HPP
