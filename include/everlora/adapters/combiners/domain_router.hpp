// everlora — DomainRouter: MoA's explicit router (arXiv 2403.03432; METHODS.md "MoA"). A linear
// classifier over a summary of each example's prompt, one row per domain:
//   h̄ = meanpool_prompt(tokens),   z = R·((h̄ − μ) / σ) + b,   p = softmax(z)        [B, domains]
// (μ, σ: the standardisation of the summaries it was last fitted on, a decision of ours that
// makes the fit independent of the embeddings' scale). The routing weights keep the top_k
// largest p, renormalised to sum to 1: with top_k = 1 (the default) each example goes to exactly
// one expert with weight 1, and only that expert runs. It is trained with cross-entropy on domain
// labels (continual/moa.hpp fits it); add_domain() adds a row.
#ifndef EVERLORA_ADAPTERS_COMBINERS_DOMAIN_ROUTER_HPP
#define EVERLORA_ADAPTERS_COMBINERS_DOMAIN_ROUTER_HPP

#include <algorithm>
#include <deque>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "everlora/adapters/combiners/example_router.hpp"
#include "everlora/core/ops/elementwise.hpp"
#include "everlora/core/ops/matmul.hpp"
#include "everlora/core/ops/pooling.hpp"
#include "everlora/core/ops/reduce.hpp"
#include "everlora/core/ops/shape_ops.hpp"
#include "everlora/core/ops/softmax.hpp"

namespace everlora {

template <class T>
class DomainRouter : public ExampleRouter<T> {
 public:
  /// A router over `width`-wide summaries, mixing the `top_k` most likely experts; it reads the
  /// input embeddings (input_layer 0) or the base model's state after block `input_layer`.
  DomainRouter(Index width, Index top_k = 1, Index input_layer = 0) : top_k_(top_k) {
    if (width < 1) throw Error(ErrorKind::config, "DomainRouter: width must be at least 1, got " + std::to_string(width));
    if (top_k < 1) throw Error(ErrorKind::config, "DomainRouter: top_k must be at least 1, got " + std::to_string(top_k));
    if (input_layer < 0) throw Error(ErrorKind::config, "DomainRouter: input_layer must be >= 0, got " + std::to_string(input_layer));
    this->input_layer_ = input_layer;
    this->register_module("standardize", standardize_, std::make_shared<Standardizer<T>>(width));
  }
  const char* type_name() const override { return "DomainRouter"; }
  Index width() const { return standardize_->width(); }
  Index top_k() const { return top_k_; }
  Index num_experts() const override { return static_cast<Index>(rows_.size()); }

  /// Adds a domain: a row "row<n>" and a bias "bias<n>", both zero (trainable).
  void add_domain() {
    rows_.emplace_back();
    biases_.emplace_back();
    const std::string n = std::to_string(rows_.size());
    this->register_parameter("row" + n, rows_.back(), Tensor<T>::zeros({1, width()}));
    this->register_parameter("bias" + n, biases_.back(), Tensor<T>::zeros({1}));
  }
  /// The trainable rows and biases (what a fit updates).
  std::vector<Tensor<T>> classifier_parameters() const {
    std::vector<Tensor<T>> out(rows_.begin(), rows_.end());
    out.insert(out.end(), biases_.begin(), biases_.end());
    return out;
  }
  /// Sets μ and σ to the mean and standard deviation (plus a floor) of summaries [M, d].
  void standardize_on(const Tensor<T>& summaries) { standardize_->fit(summaries); }

  /// h̄: the masked mean over each example's prompt [B, d].
  Tensor<T> summarize(const RoutingInput<T>& input) const {
    check_width(input.tokens.shape(), "routing input");
    if (input.tokens.rank() != 3) throw Error(ErrorKind::shape, "DomainRouter: routing input " + input.tokens.shape().str() + " is not [B, S, d]");
    return mean_pool(input.tokens, input.mask);
  }
  /// z [B, domains] of summaries h̄ [B, d] (the cross-entropy's logits).
  Tensor<T> logits(const Tensor<T>& summary) {
    if (rows_.empty()) throw Error(ErrorKind::config, "DomainRouter: no domain yet (add_domain first)");
    check_width(summary.shape(), "summary");
    const Tensor<T> standardized = standardize_->apply(summary);
    const Tensor<T> r = rows_.size() == 1 ? rows_.front() : concat(std::vector<Tensor<T>>(rows_.begin(), rows_.end()), 0);
    const Tensor<T> b = biases_.size() == 1 ? biases_.front() : concat(std::vector<Tensor<T>>(biases_.begin(), biases_.end()), 0);
    return matmul_nt(standardized, r) + b;
  }
  /// The top_k renormalised probabilities [B, domains] (zero outside each example's top_k).
  Tensor<T> compute(const RoutingInput<T>& input) override { return top_k_weights(softmax(logits(summarize(input)))); }

  /// p restricted to each row's top_k entries (ties to the lower index), renormalised.
  Tensor<T> top_k_weights(const Tensor<T>& p) const {
    const Index rows = p.dim(0), k = p.dim(1);
    if (top_k_ >= k) return p;
    Tensor<T> keep = Tensor<T>::zeros(p.shape());
    std::vector<Index> order(static_cast<std::size_t>(k));
    for (Index r = 0; r < rows; ++r) {
      std::iota(order.begin(), order.end(), Index(0));
      std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return p[r * k + a] > p[r * k + b]; });
      for (Index i = 0; i < top_k_; ++i) keep[r * k + order[static_cast<std::size_t>(i)]] = T(1);
    }
    const Tensor<T> kept = p * keep;
    return kept / sum(kept, 1, true);
  }

 private:
  void check_width(const Shape& shape, const char* what) const {
    if (shape.rank() < 2 || shape.last() != width())
      throw Error(ErrorKind::shape, std::string("DomainRouter: ") + what + " " + shape.str() + " does not end in " + std::to_string(width()));
  }

  Index top_k_;
  std::shared_ptr<Standardizer<T>> standardize_;
  std::deque<Tensor<T>> rows_, biases_;  // deques: registered parameter slots must not move
};

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_COMBINERS_DOMAIN_ROUTER_HPP
