// everlora — MoA (arXiv 2403.03432; METHODS.md "MoA"; the paper's body was not available to us,
// so this reconstruction is ours: docs/methods/moa.md). Two stages per domain t:
//   1. expert t is trained alone from the base: the DomainRouter is forced to send every example
//      to it, so no other expert runs or interferes;
//   2. prompt_buffer labelled prompts of domain t join the router's buffer, the router gets a row
//      for domain t, and it is refitted on the whole buffer: standardised summaries, then
//      router_steps full-batch AdamW steps of cross-entropy against the domain labels.
// At inference the router sends each example to its top_k experts (top-1: exactly one runs).
// Summaries of the prompt embeddings (or of the base model's hidden state) never change, so the
// buffer keeps them, not the prompts.
#ifndef EVERLORA_CONTINUAL_MOA_HPP
#define EVERLORA_CONTINUAL_MOA_HPP

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "everlora/adapters/combiners/domain_router.hpp"
#include "everlora/continual/example_routing.hpp"
#include "everlora/continual/strategy.hpp"
#include "everlora/core/ops/loss.hpp"
#include "everlora/optim/adamw.hpp"

namespace everlora {

template <class T>
class Moa : public Strategy<T> {
 public:
  explicit Moa(StrategyOptions options) : Strategy<T>(std::move(options)) {
    const MoaConfig& c = this->options_.moa;
    auto need = [](bool ok, const std::string& what) {
      if (!ok) throw Error(ErrorKind::config, "moa: " + what);
    };
    need(c.top_k >= 1, "top_k must be at least 1, got " + std::to_string(c.top_k));
    need(c.input_layer >= 0, "input_layer must be >= 0, got " + std::to_string(c.input_layer));
    need(c.prompt_buffer >= 1, "prompt_buffer must be at least 1, got " + std::to_string(c.prompt_buffer));
    need(c.router_steps >= 1, "router_steps must be at least 1, got " + std::to_string(c.router_steps));
    need(c.router_lr > 0, "router_lr must be > 0, got " + std::to_string(c.router_lr));
  }
  std::string name() const override { return "moa"; }

  void before_task(Workload<T>& workload, Index t) override {
    const MoaConfig& c = this->options_.moa;
    if (!router_) {
      router_ = std::make_shared<DomainRouter<T>>(routing_width(workload, c.input_layer), c.top_k, c.input_layer);
      install_router<T>(workload, router_);
    }
    add_task_expert(workload.model(), this->options_.lora, task_expert_name(t), t);
    route_layers_through<T>(workload.model(), router_);
    router_->add_domain();
    set_router_trainable(false);
    router_->force(t);  // stage 1: the new expert alone
  }

  void after_task(Workload<T>& workload, Index t) override {
    router_->release();
    const MoaConfig& c = this->options_.moa;
    const auto prompts = sample_examples(workload, t, c.prompt_buffer, this->options_.seed * 1000003ULL + 401 + static_cast<std::uint64_t>(t));
    buffer_.push_back(routing_summaries(workload, prompts, Split::train, c.input_layer,
                                        [&](const RoutingInput<T>& in) { return router_->summarize(in); }));
    fit_router();
  }

  void replay_after_task(Workload<T>&, Index) override { router_->release(); }
  void save_state(StrategyState<T>& out) const override {
    for (std::size_t d = 0; d < buffer_.size(); ++d) out.tensors.emplace("buffer/" + std::to_string(d), buffer_[d]);
    out.fields["domains"] = buffer_.size();
    out.fields["fit_accuracy"] = fit_accuracy_;
  }
  void load_state(Workload<T>& workload, const StrategyState<T>& in) override {
    buffer_.clear();
    const auto domains = in.template get<Index>("domains");
    if (domains > workload.num_tasks())
      throw Error(ErrorKind::format, "the checkpoint's MoA state has " + std::to_string(domains) + " domains, the workload " +
                                         std::to_string(workload.num_tasks()) + " tasks");
    for (Index d = 0; d < domains; ++d) {
      const Tensor<T>& prompts = in.tensor("buffer/" + std::to_string(d));
      if (prompts.rank() != 2 || prompts.dim(0) < 1 || prompts.dim(1) != router_->width())
        throw Error(ErrorKind::format, "the checkpoint's MoA buffer/" + std::to_string(d) + " is " + prompts.shape().str() +
                                           ", not [prompts, " + std::to_string(router_->width()) + "]");
      buffer_.push_back(prompts);
    }
    fit_accuracy_ = in.template get<double>("fit_accuracy");
  }

  /// Refits the router on the whole buffer (stage 2); returns its accuracy on the buffer (%).
  double fit_router() {
    const MoaConfig& c = this->options_.moa;
    std::vector<std::int32_t> labels;
    for (std::size_t d = 0; d < buffer_.size(); ++d) labels.insert(labels.end(), static_cast<std::size_t>(buffer_[d].dim(0)), static_cast<std::int32_t>(d));
    const Tensor<T> summaries = buffer_.size() == 1 ? buffer_.front() : concat(buffer_, 0);
    router_->standardize_on(summaries);
    set_router_trainable(true);
    AdamWOptions adam;
    adam.lr = c.router_lr;
    adam.weight_decay = 0.0;
    AdamW<T> optimizer(router_->classifier_parameters(), adam);
    for (Index step = 0; step < c.router_steps; ++step) {
      cross_entropy(router_->logits(summaries), labels).backward();
      optimizer.step();
      optimizer.zero_grad();
    }
    set_router_trainable(false);
    NoGrad no_graph;
    const Tensor<T> z = router_->logits(summaries);
    Index hits = 0;
    for (Index i = 0; i < z.dim(0); ++i) {
      const T* row = z.data() + i * z.dim(1);
      hits += (std::max_element(row, row + z.dim(1)) - row) == labels[static_cast<std::size_t>(i)] ? 1 : 0;
    }
    fit_accuracy_ = 100.0 * static_cast<double>(hits) / static_cast<double>(z.dim(0));
    return fit_accuracy_;
  }

  DomainRouter<T>* router() const { return router_.get(); }
  /// The prompt summaries kept for each domain so far, [prompt_buffer, width] each.
  const std::vector<Tensor<T>>& buffer() const { return buffer_; }
  /// The router's accuracy on its buffer after the last refit (%).
  double fit_accuracy() const { return fit_accuracy_; }

 private:
  void set_router_trainable(bool on) {
    for (Tensor<T> p : router_->classifier_parameters()) p.requires_grad_(on);
  }

  std::shared_ptr<DomainRouter<T>> router_;
  std::vector<Tensor<T>> buffer_;
  double fit_accuracy_ = 0;
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_MOA_HPP
