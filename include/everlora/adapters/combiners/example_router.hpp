// everlora — per-example routing shared by every adapted layer (SAPT and MoA; ARCHITECTURE.md,
// "the seam"). A router turns one batch's routing input (each example's prompt embeddings, or a
// hidden state of the base model) into weights w [B, experts], one row per example, before the
// model's forward pass; every adapted layer's RoutedCombiner then mixes its experts with the same
// row. The router lives once in the model (a child at its root) and the layers only point to it,
// so its parameters are trained and saved once.
//   Workload side:  RoutedForward scope(router, batch, make_input);  model.forward(…);
//   Layer side:     AdaptedLinear sees a per-example combiner and runs routed_lora_linear, which
//                   skips every (example, expert) pair of weight 0 (top-1: one expert per row).
#ifndef EVERLORA_ADAPTERS_COMBINERS_EXAMPLE_ROUTER_HPP
#define EVERLORA_ADAPTERS_COMBINERS_EXAMPLE_ROUTER_HPP

#include <cmath>
#include <functional>
#include <memory>
#include <string>

#include "everlora/adapters/combiners/combiner.hpp"
#include "everlora/core/ops/elementwise.hpp"

namespace everlora {

/// What a router looks at: `tokens` [B, S, d] (input embeddings, or hidden states) and `mask`
/// [B, S] with 1 on each example's prompt positions, 0 on padding and answers.
template <class T>
struct RoutingInput {
  Tensor<T> tokens;
  Tensor<T> mask;
  Index examples() const { return tokens.defined() ? tokens.dim(0) : 0; }
};

/// How a router summarises a prompt's tokens into one vector.
enum class SequencePool { max, mean };

inline const char* to_string(SequencePool p) { return p == SequencePool::max ? "max" : "mean"; }

/// "max" or "mean"; Error(config) naming the value otherwise.
inline SequencePool parse_sequence_pool(const std::string& name) {
  if (name == "max") return SequencePool::max;
  if (name == "mean") return SequencePool::mean;
  throw Error(ErrorKind::config, "sequence pooling '" + name + "' is not one of max, mean");
}

/// Per-feature standardisation of a router's summaries, (x − μ) / σ, with μ and σ fitted on a
/// sample and then frozen (parameters "center" and "spread", saved with the model). Until fit()
/// it is the identity.
template <class T>
class Standardizer : public Module<T> {
 public:
  explicit Standardizer(Index width) {
    if (width < 1) throw Error(ErrorKind::config, "Standardizer: width must be at least 1, got " + std::to_string(width));
    this->register_parameter("center", center_, Tensor<T>::zeros({1, width}));
    this->register_parameter("spread", spread_, Tensor<T>::ones({1, width}));
    center_.requires_grad_(false);
    spread_.requires_grad_(false);
  }
  const char* type_name() const override { return "Standardizer"; }
  Index width() const { return center_.dim(1); }

  /// μ and σ (plus a floor of 1e-6) of the rows of `samples` [M, width].
  void fit(const Tensor<T>& samples) {
    if (samples.rank() != 2 || samples.dim(1) != width() || samples.dim(0) < 1)
      throw Error(ErrorKind::shape, "Standardizer: samples " + samples.shape().str() + " are not [M, " + std::to_string(width()) + "]");
    const auto m = samples.matrix();
    center_.vec() = m.colwise().mean().transpose();
    for (Index j = 0; j < width(); ++j)
      spread_[j] = std::sqrt((m.col(j).array() - center_[j]).square().mean()) + T(1e-6);
  }
  Tensor<T> apply(const Tensor<T>& x) const { return (x - center_) / spread_; }

 private:
  Tensor<T> center_, spread_;
};

template <class T>
class ExampleRouter : public Module<T> {
 public:
  /// Number of experts it routes among (one per task or domain so far).
  virtual Index num_experts() const = 0;
  /// The routing weights [B, experts] of `input`, with graph while training.
  virtual Tensor<T> compute(const RoutingInput<T>& input) = 0;

  /// Routes a batch of `batch` examples: every example to the forced expert if one is set (the
  /// input is then not built), else compute(make_input()). The weights stay until clear().
  void route(Index batch, const std::function<RoutingInput<T>()>& make_input) {
    if (forced_ >= 0) {
      weights_ = Tensor<T>::zeros({batch, num_experts()});
      for (Index i = 0; i < batch; ++i) weights_[i * num_experts() + forced_] = T(1);
      return;
    }
    const RoutingInput<T> input = make_input();
    if (input.examples() != batch)
      throw Error(ErrorKind::shape, std::string(this->type_name()) + ": routing input of " + std::to_string(input.examples()) +
                                        " examples for a batch of " + std::to_string(batch));
    weights_ = compute(input);
  }
  /// Routes a batch to no expert at all: the layers compute the base model alone.
  void route_to_base(Index batch) { weights_ = Tensor<T>::zeros({batch, num_experts()}); }
  /// Forgets the batch's weights (a forward pass without routing then fails instead of reusing them).
  void clear() { weights_ = Tensor<T>(); }
  const Tensor<T>& weights() const { return weights_; }

  /// Sends every example to expert `e` alone until release() (training one expert in isolation,
  /// sampling pseudo inputs with one task's expert).
  void force(Index e) {
    if (e < 0 || e >= num_experts())
      throw Error(ErrorKind::config, std::string(this->type_name()) + ": cannot force expert " + std::to_string(e) + " of " +
                                         std::to_string(num_experts()));
    forced_ = e;
  }
  void release() { forced_ = -1; }
  Index forced() const { return forced_; }

  /// The hidden layer whose output is the routing input: 0 = the input embeddings, k = the base
  /// model's state after its k-th block (or hidden layer).
  Index input_layer() const { return input_layer_; }

 protected:
  Index input_layer_ = 0;

 private:
  Tensor<T> weights_;
  Index forced_ = -1;
};

/// Routes one batch for the lifetime of the scope, then clears the weights.
template <class T>
class RoutedForward {
 public:
  RoutedForward(ExampleRouter<T>* router, Index batch, const std::function<RoutingInput<T>()>& make_input) : router_(router) {
    if (router_) router_->route(batch, make_input);
  }
  ~RoutedForward() {
    if (router_) router_->clear();
  }
  RoutedForward(const RoutedForward&) = delete;
  RoutedForward& operator=(const RoutedForward&) = delete;

 private:
  ExampleRouter<T>* router_;
};

/// Forces a router to one expert for the lifetime of the scope, then releases it.
template <class T>
class ForcedExpert {
 public:
  ForcedExpert(ExampleRouter<T>& router, Index expert) : router_(router) { router_.force(expert); }
  ~ForcedExpert() { router_.release(); }
  ForcedExpert(const ForcedExpert&) = delete;
  ForcedExpert& operator=(const ForcedExpert&) = delete;

 private:
  ExampleRouter<T>& router_;
};

/// An adapted layer's view of the shared router: its weights, one row per example.
template <class T>
class RoutedCombiner : public Combiner<T> {
 public:
  explicit RoutedCombiner(std::shared_ptr<ExampleRouter<T>> router) : router_(std::move(router)) {
    if (!router_) throw Error(ErrorKind::config, "RoutedCombiner: no router");
  }
  const char* type_name() const override { return "RoutedCombiner"; }
  bool mergeable() const override { return false; }
  bool per_example() const override { return true; }
  ExampleRouter<T>& router() { return *router_; }

  Tensor<T> weights(const CombinerInput<T>& in) override {
    const Tensor<T>& w = router_->weights();
    if (!w.defined())
      throw Error(ErrorKind::config, std::string("RoutedCombiner: the ") + router_->type_name() +
                                         " has not routed this batch (score and train through the workload, which routes first)");
    if (w.dim(1) != static_cast<Index>(in.experts.size()))
      throw Error(ErrorKind::config, std::string("RoutedCombiner: the ") + router_->type_name() + " routes among " +
                                         std::to_string(w.dim(1)) + " experts, the layer has " + std::to_string(in.experts.size()));
    return w;
  }

 private:
  std::shared_ptr<ExampleRouter<T>> router_;
};

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_COMBINERS_EXAMPLE_ROUTER_HPP
