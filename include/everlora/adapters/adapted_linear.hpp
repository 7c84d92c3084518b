// everlora — AdaptedLinear: a frozen base Linear plus a bank of LoRA experts, mixed by a combiner,
// each passed through a gate (ARCHITECTURE.md's gate × combiner seam).
//   y = x·W0ᵀ + b + Σ_e c_e(x) · s_e · gate(B_e·A_e)·x̃     (x̃ = dropout(x) for the adapters)
// It is a Linear (same `weight` and `bias` names), so it takes a Linear's place by name and the
// base weights keep their paths; experts live at <layer>.experts.<name>.lora_A / .lora_B.
// With the Identity gate the fused low-rank op runs (ΔW is never formed); another gate forms each
// expert's dense update and output, and any combiner mixes those. A per-example combiner (SAPT's
// and MoA's routers) gives c per example instead of per row, and the routed op runs each expert
// only on the examples that weigh it.
#ifndef EVERLORA_ADAPTERS_ADAPTED_LINEAR_HPP
#define EVERLORA_ADAPTERS_ADAPTED_LINEAR_HPP

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "everlora/adapters/combiners/sum.hpp"
#include "everlora/adapters/expert_bank.hpp"
#include "everlora/adapters/gates.hpp"
#include "everlora/adapters/lora_linear_op.hpp"
#include "everlora/adapters/routed_lora_op.hpp"
#include "everlora/core/ops/dropout.hpp"
#include "everlora/core/ops/matmul.hpp"
#include "everlora/core/ops/shape_ops.hpp"
#include "everlora/nn/linear.hpp"

namespace everlora {

template <class T>
class AdaptedLinear : public Linear<T> {
 public:
  /// Wraps `base` (sharing its weight and bias), which becomes frozen.
  explicit AdaptedLinear(Linear<T>& base, std::uint64_t dropout_seed = 0)
      : Linear<T>(base.weight(), base.has_bias() ? base.bias() : Tensor<T>()), dropout_rng_(dropout_seed) {
    this->weight().requires_grad_(false);
    if (this->has_bias()) this->bias().requires_grad_(false);
    this->register_module("experts", bank_, std::make_shared<ExpertBank<T>>());
    this->register_module("combiner", combiner_, std::shared_ptr<Combiner<T>>(std::make_shared<Sum<T>>()));
    this->register_module("gate", gate_, std::shared_ptr<Gate<T>>(std::make_shared<Identity<T>>()));
  }
  const char* type_name() const override { return "AdaptedLinear"; }

  /// Adds an expert of config's shape and init; the layer's adapter dropout becomes config.dropout.
  LoraExpert<T>& add_expert(const std::string& name, const LoraConfig& config, Rng& rng) {
    if (merged_) throw Error(ErrorKind::config, "AdaptedLinear: unmerge() before adding experts");
    dropout_p_ = config.dropout;
    return bank_->add(name, this->in_features(), this->out_features(), config, rng);
  }
  ExpertBank<T>& experts() { return *bank_; }
  Combiner<T>& combiner() { return *combiner_; }
  Gate<T>& gate() { return *gate_; }
  void set_combiner(std::shared_ptr<Combiner<T>> c) { this->replace_child("combiner", std::move(c)); }
  void set_gate(std::shared_ptr<Gate<T>> g) { this->replace_child("gate", std::move(g)); }
  /// The generator of the adapters' dropout masks (to save, restore or reseed it).
  Rng& dropout_rng() { return dropout_rng_; }

  Tensor<T> forward(const Tensor<T>& x) override {
    if (merged_ || bank_->size() == 0) return Linear<T>::forward(x);
    if (x.rank() < 1 || x.shape().last() != this->in_features())
      throw Error(ErrorKind::shape, "AdaptedLinear(" + std::to_string(this->in_features()) + " -> " +
                                        std::to_string(this->out_features()) + "): input " +
                                        x.shape().str() + " does not end in " + std::to_string(this->in_features()));
    const Tensor<T> x_adapter = this->training() && dropout_p_ > 0 ? dropout(x, dropout_p_, dropout_rng_) : x;
    if (combiner_->per_example() && !gate_->is_identity())
      throw Error(ErrorKind::config, std::string("AdaptedLinear: per-example routing (") + combiner_->type_name() +
                                         ") runs plain LoRA experts; the " + gate_->type_name() + " gate is not supported with it");
    if (!gate_->is_identity()) return dense_forward(x, x_adapter);
    std::vector<Tensor<T>> as, bs;
    std::vector<T> scales;
    for (std::size_t e = 0; e < bank_->size(); ++e) {
      as.push_back((*bank_)[e].a());
      bs.push_back((*bank_)[e].b());
      scales.push_back((*bank_)[e].scale());
    }
    Tensor<T> rank_activations;  // U = x̃·A_stackᵀ, if the combiner computed it
    const Tensor<T> coef = combiner_->weights({x, x_adapter, *bank_, nullptr, &rank_activations});
    const Index rows = x.shape().rows();
    if (combiner_->per_example()) {
      // Every example weighs every expert (SAPT's softmax): the stacked op, one GEMM for all the
      // experts, beats one GEMM per expert. Zeros (MoA's top-k) take the routed op, which skips them.
      const bool dense = coef.rank() == 2 && coef.dim(0) > 0 && rows % coef.dim(0) == 0 && (coef.vec().array() != T(0)).all();
      if (!dense) {
        std::vector<Index> ran;  // rows per expert, added to expert_rows_ under the lock
        Tensor<T> y = routed_lora_linear(x, x_adapter, this->weight(), this->bias(), as, bs, scales, coef, &ran);
        add_expert_rows(ran.size(), [&ran](std::size_t e) { return ran[e]; });
        return y;
      }
      count_all_rows(rows);
      return lora_linear(x, x_adapter, this->weight(), this->bias(), as, bs, scales, repeat_rows(coef, rows / coef.dim(0)));
    }
    count_all_rows(rows);
    return lora_linear(x, x_adapter, this->weight(), this->bias(), as, bs, scales, coef, rank_activations);
  }

  /// Rows of input each expert (by position in the bank) has run on since reset_expert_rows():
  /// every row for every expert, except under per-example routing, where an expert runs only on
  /// the examples that give it a nonzero weight. Counted under a lock (concurrent inference); read
  /// it, and reset it, while no other thread runs the layer.
  const std::vector<Index>& expert_rows() const { return expert_rows_; }
  void reset_expert_rows() { expert_rows_.clear(); }

  /// The gated dense update of expert e: gate(B_e·A_e) [out, in] (without the scale).
  Tensor<T> delta_weight(std::size_t e) { return gate_->apply(matmul((*bank_)[e].b(), (*bank_)[e].a()), bank_->names().at(e)); }

  /// Folds every expert into W0 (W0 += Σ_e s_e·gate(B_e·A_e)); forward then runs the base alone.
  /// Exact up to float rounding; needs a mergeable combiner.
  void merge() { fold(+1, nullptr); merged_ = true; }
  /// Undoes merge() (W0 −= the same sum), up to float rounding.
  void unmerge() {
    if (!merged_) throw Error(ErrorKind::config, "AdaptedLinear: unmerge() without merge()");
    fold(-1, nullptr);
    merged_ = false;
  }
  /// Folds one expert into W0 and removes it from the bank (IncLoRA's finished experts).
  void merge_expert(const std::string& name) {
    fold(+1, &name);
    bank_->remove(name);
  }
  bool merged() const { return merged_; }

  /// Σ_e s_e·gate(B_e·A_e) [out, in], without a graph: what merge() adds to W0. Needs a mergeable
  /// combiner.
  Tensor<T> summed_update() { return scaled_updates(nullptr); }

 private:
  /// Σ s_e·gate(B_e·A_e) over every expert, or over expert `*only`.
  Tensor<T> scaled_updates(const std::string* only) {
    if (!combiner_->mergeable())
      throw Error(ErrorKind::config, std::string("AdaptedLinear: the ") + combiner_->type_name() +
                                         " combiner's weights depend on the input: its experts cannot be merged");
    NoGrad no_graph;
    Tensor<T> sum = Tensor<T>::zeros(this->weight().shape());
    for (std::size_t e = 0; e < bank_->size(); ++e)
      if (!only || bank_->names()[e] == *only) sum.vec() += (*bank_)[e].scale() * delta_weight(e).vec();
    return sum;
  }
  /// expert_rows_[e] += rows_of(e) for every expert e, under the lock (inference may run from
  /// several threads).
  template <class RowsOf>
  void add_expert_rows(std::size_t experts, RowsOf&& rows_of) {
    const std::lock_guard<std::mutex> lock(count_);
    expert_rows_.resize(std::max(expert_rows_.size(), experts), 0);
    for (std::size_t e = 0; e < experts; ++e) expert_rows_[e] += rows_of(e);
  }
  void count_all_rows(Index rows) { add_expert_rows(bank_->size(), [rows](std::size_t) { return rows; }); }
  /// W0 ±= the scaled updates; a W0 held in bf16 is updated in float and rounded back.
  void fold(int sign, const std::string* only) {
    Tensor<T>& weight = this->weight();
    const bool bf16 = weight.held_in_bf16();
    const Tensor<T> update = scaled_updates(only);
    weight.hold_in_f32().vec() += static_cast<T>(sign) * update.vec();
    if (bf16) weight.hold_in_bf16();
  }

  /// The gated path: each expert's output e_e = s_e·x̃·gate(ΔW_e)ᵀ from its dense update, then
  /// y = base + Σ_e c_e ⊙ e_e with the combiner's weights (which may look at the e_e).
  Tensor<T> dense_forward(const Tensor<T>& x, const Tensor<T>& x_adapter) {
    Tensor<T> y = Linear<T>::forward(x);
    count_all_rows(x.shape().rows());
    std::vector<Tensor<T>> outputs;
    for (std::size_t e = 0; e < bank_->size(); ++e)
      outputs.push_back(matmul_nt(x_adapter, delta_weight(e) * (*bank_)[e].scale()));
    const Tensor<T> coef = combiner_->weights({x, x_adapter, *bank_, &outputs});
    if (!coef.defined()) {
      for (const auto& out : outputs) y = y + out;
      return y;
    }
    const Index rows = x.shape().rows(), out_features = this->out_features();
    Tensor<T> mixed;
    for (std::size_t e = 0; e < outputs.size(); ++e) {
      const auto k = static_cast<Index>(e);
      Tensor<T> term = reshape(outputs[e], {rows, out_features}) * slice(coef, 1, k, k + 1);
      mixed = mixed.defined() ? mixed + term : term;
    }
    return y + reshape(mixed, y.shape());
  }

  std::shared_ptr<ExpertBank<T>> bank_;
  std::shared_ptr<Combiner<T>> combiner_;
  std::shared_ptr<Gate<T>> gate_;
  double dropout_p_ = 0.0;
  Rng dropout_rng_;
  bool merged_ = false;
  std::mutex count_;  ///< guards expert_rows_
  std::vector<Index> expert_rows_;
};

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_ADAPTED_LINEAR_HPP
