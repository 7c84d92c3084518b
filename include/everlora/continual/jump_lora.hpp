// everlora — JumpLoRA (arXiv 2604.16171; METHODS.md "JumpLoRA"): a JumpReLU gate on every adapted
// layer, composed with a strategy that adds an expert per task (IncLoRA, ELLA or AM-LoRA). Within
// task t, over its S steps:
//   steps [0, 0.2·S)      a = 0: the new expert trains dense;
//   at step 0.2·S         θ is reset per layer so that exactly r·(in + out) entries of ΔW survive
//                         (as many as the expert has parameters: the budget-matched reset);
//   steps [0.2·S, 0.8·S]  a rises linearly from 0 to 1: ΔW_eff = a·J_θ(ΔW) + (1 − a)·ΔW;
//   after 0.8·S           a = 1: only the masked update acts, θ keeps learning.
// At task end the expert's θ is frozen; with IncLoRA the masked update is merged into W0 and the
// expert removed (exact: the merged layer computes the same function), with ELLA and AM-LoRA it
// stays as a frozen sparse expert (ELLA needs the past updates; the mixer needs each expert's
// output). The masks of finished tasks are kept for the sparsity and overlap reports.
#ifndef EVERLORA_CONTINUAL_JUMP_LORA_HPP
#define EVERLORA_CONTINUAL_JUMP_LORA_HPP

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "everlora/adapters/gates.hpp"
#include "everlora/continual/strategy.hpp"

namespace everlora {

/// Which entries of each layer's update a finished task kept, and how they overlap.
struct JumpMasks {
  std::vector<std::string> layers;
  std::vector<std::vector<std::vector<bool>>> kept;  ///< [task][layer][entry]

  /// Share of layer l's entries task t kept, in [0, 1].
  double density(std::size_t t, std::size_t l) const {
    const auto& m = kept.at(t).at(l);
    return m.empty() ? 0.0 : static_cast<double>(std::count(m.begin(), m.end(), true)) / static_cast<double>(m.size());
  }
  /// |M_i ∩ M_j| / |M_i ∪ M_j| of tasks i and j, averaged over the layers (0 when both are empty).
  double overlap(std::size_t i, std::size_t j) const {
    double total = 0;
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const auto& a = kept.at(i).at(l);
      const auto& b = kept.at(j).at(l);
      std::size_t both = 0, either = 0;
      for (std::size_t k = 0; k < a.size(); ++k) both += a[k] && b[k], either += a[k] || b[k];
      total += either ? static_cast<double>(both) / static_cast<double>(either) : 0.0;
    }
    return layers.empty() ? 0.0 : total / static_cast<double>(layers.size());
  }
};

/// The weight a of the dense → sparse schedule after `step` of `steps` (0-based): 0 until 20%,
/// linear to 1 at 80%, then 1.
inline double jump_schedule(long step, long steps) {
  const double progress = steps > 0 ? static_cast<double>(step) / static_cast<double>(steps) : 1.0;
  return std::clamp((progress - 0.2) / 0.6, 0.0, 1.0);
}

template <class T>
class JumpLora : public Strategy<T> {
 public:
  /// `inner` adds the experts and the loss terms (IncLora, Ella or AmLora); `merge` folds each
  /// finished expert into W0 (IncLoRA only: the others need their experts).
  JumpLora(std::unique_ptr<Strategy<T>> inner, StrategyOptions options, bool merge)
      : Strategy<T>(std::move(options)), inner_(std::move(inner)), merge_(merge) {}
  std::string name() const override { return inner_->name() == "inc_lora" ? "jump_lora" : "jump_lora+" + inner_->name(); }
  std::vector<Index> training_tasks(Index t) const override { return inner_->training_tasks(t); }

  void before_task(Workload<T>& workload, Index t) override {
    inner_->before_task(workload, t);
    current_ = task_expert_name(t);
    for (auto& [path, layer] : adapted_layers(workload.model())) {
      auto* gate = dynamic_cast<JumpReLU<T>*>(&layer->gate());
      if (!gate) {
        auto fresh = std::make_shared<JumpReLU<T>>(this->options_.jump);
        gate = fresh.get();
        layer->set_gate(fresh);
        for (const auto& name : layer->experts().names())  // experts from before the gate came
          if (name != current_) gate->add_expert(name).log_threshold().requires_grad_(false);
      }
      gate->add_expert(current_).mix = T(0);
    }
    mix_ = 0.0;
  }

  void before_steps(Workload<T>& workload, Index t, Index steps) override {
    inner_->before_steps(workload, t, steps);
    steps_ = steps;
    reset_done_ = false;
  }

  Tensor<T> extra_loss(Workload<T>& workload, const std::vector<ExampleRef>& batch) override {
    return inner_->extra_loss(workload, batch);
  }

  void after_step(Workload<T>& workload, const std::vector<ExampleRef>& batch, long step) override {
    inner_->after_step(workload, batch, step);
    const long next = step + 1;  // the schedule of the step about to run
    if (!reset_done_ && next >= static_cast<long>(0.2 * static_cast<double>(steps_))) {
      reset_thresholds(workload.model());
      reset_done_ = true;
    }
    set_mix(workload.model(), jump_schedule(next, steps_));
  }

  void after_task(Workload<T>& workload, Index t) override {
    inner_->after_task(workload, t);
    auto layers = adapted_layers(workload.model());
    if (masks_.layers.empty())
      for (auto& [path, layer] : layers) masks_.layers.push_back(path);
    std::vector<std::vector<bool>> kept;
    for (auto& [path, layer] : layers) {
      freeze_threshold(*layer);
      NoGrad no_graph;
      const auto& names = layer->experts().names();
      const auto e = static_cast<std::size_t>(std::find(names.begin(), names.end(), current_) - names.begin());
      const Tensor<T> update = layer->delta_weight(e);
      std::vector<bool> mask(static_cast<std::size_t>(update.numel()));
      for (Index i = 0; i < update.numel(); ++i) mask[static_cast<std::size_t>(i)] = update[i] != T(0);
      kept.push_back(std::move(mask));
      if (merge_) layer->merge_expert(current_);
    }
    masks_.kept.push_back(std::move(kept));
  }

  /// The expert's threshold frozen and, with merging, the expert gone (W0 is loaded with it in).
  void replay_after_task(Workload<T>& workload, Index t) override {
    inner_->replay_after_task(workload, t);
    for (auto& [path, layer] : adapted_layers(workload.model())) {
      freeze_threshold(*layer);
      if (merge_) layer->experts().remove(current_);
    }
  }
  void save_state(StrategyState<T>& out) const override {
    StrategyState<T> inner;
    inner_->save_state(inner);
    out.nest("inner", std::move(inner));
    out.fields["steps"] = steps_;
    out.fields["reset_done"] = reset_done_;
    out.fields["mix"] = mix_;
    out.fields["mask_layers"] = masks_.layers;
    out.fields["mask_tasks"] = masks_.kept.size();
    for (std::size_t t = 0; t < masks_.kept.size(); ++t)
      for (std::size_t l = 0; l < masks_.layers.size(); ++l) {
        const auto& mask = masks_.kept[t][l];
        Tensor<T> bits = Tensor<T>::zeros({static_cast<Index>(mask.size())});
        for (std::size_t i = 0; i < mask.size(); ++i) bits[static_cast<Index>(i)] = mask[i] ? T(1) : T(0);
        out.tensors.emplace("mask/" + std::to_string(t) + "/" + std::to_string(l), bits);
      }
  }
  void load_state(Workload<T>& workload, const StrategyState<T>& in) override {
    inner_->load_state(workload, in.nested("inner"));
    steps_ = in.template get<Index>("steps");
    reset_done_ = in.template get<bool>("reset_done");
    set_mix(workload.model(), in.template get<double>("mix"));
    masks_.layers = in.template get<std::vector<std::string>>("mask_layers");
    const auto tasks = in.template get<Index>("mask_tasks");
    const auto layers = adapted_layers(workload.model());
    std::vector<std::string> paths;
    for (const auto& [path, layer] : layers) paths.push_back(path);
    if (tasks > workload.num_tasks() || (tasks > 0 && masks_.layers != paths))
      throw Error(ErrorKind::format, "the checkpoint's JumpLoRA masks (" + std::to_string(tasks) + " tasks, " +
                                         std::to_string(masks_.layers.size()) + " layers) do not fit this model's " +
                                         std::to_string(paths.size()) + " adapted layers");
    masks_.kept.assign(static_cast<std::size_t>(tasks), {});
    for (std::size_t t = 0; t < masks_.kept.size(); ++t)
      for (std::size_t l = 0; l < masks_.layers.size(); ++l) {
        const Shape entries{layers[l].second->weight().numel()};
        const Tensor<T>& bits = in.tensor("mask/" + std::to_string(t) + "/" + std::to_string(l), &entries);
        std::vector<bool> mask(static_cast<std::size_t>(bits.numel()));
        for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = bits[static_cast<Index>(i)] != T(0);
        masks_.kept[t].push_back(std::move(mask));
      }
  }

  const JumpMasks& masks() const { return masks_; }
  Strategy<T>& inner() { return *inner_; }

 private:
  /// The current expert's threshold: fully gated (a = 1) and no longer learning.
  void freeze_threshold(AdaptedLinear<T>& layer) {
    JumpThreshold<T>& th = gate_of(layer).threshold(current_);
    th.mix = T(1);
    th.log_threshold().requires_grad_(false);
    mix_ = 1.0;
  }
  /// a of the current expert in every layer.
  void set_mix(Module<T>& model, double a) {
    mix_ = a;
    for (auto& [path, layer] : adapted_layers(model)) gate_of(*layer).threshold(current_).mix = static_cast<T>(a);
  }

  static JumpReLU<T>& gate_of(AdaptedLinear<T>& layer) {
    auto* gate = dynamic_cast<JumpReLU<T>*>(&layer.gate());
    if (!gate) throw Error(ErrorKind::config, "JumpLora: an adapted layer lost its JumpReLU gate");
    return *gate;
  }

  /// θ of the current expert, per layer, so that r·(in + out) entries of its ΔW survive.
  void reset_thresholds(Module<T>& model) {
    NoGrad no_graph;
    for (auto& [path, layer] : adapted_layers(model)) {
      LoraExpert<T>& expert = layer->experts().get(current_);
      const Tensor<T> delta = matmul(expert.b(), expert.a());
      const Index budget = expert.rank() * (layer->in_features() + layer->out_features());
      gate_of(*layer).threshold(current_).set_threshold(budget_threshold(delta, budget));
    }
  }

  std::unique_ptr<Strategy<T>> inner_;
  bool merge_;
  std::string current_;
  Index steps_ = 0;
  bool reset_done_ = false;
  double mix_ = 0.0;  ///< a of the current expert
  JumpMasks masks_;
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_JUMP_LORA_HPP
