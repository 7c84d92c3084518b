// everlora — the mode-connectivity probe that motivates I-LoRA (arXiv 2402.18865, §3): the loss
// and score of two consecutive tasks along the straight line between the states that ended them,
//   θ(α) = (1 − α)·θ_{t−1} + α·θ_t,   α = 0, 1/(n − 1), …, 1,
// in two parametrisations:
//   ab       every parameter of the adapted layers interpolated (A and B alike), so the update
//            ΔW(α) = B(α)·A(α) is quadratic in α;
//   delta_w  the updates themselves: W(α) = W0(α) + (1 − α)·Σ_e s_e·ΔW_e,{t−1} + α·Σ_e s_e·ΔW_e,t,
//            linear in α (needs constant combiner weights, as merging does).
// A state is a copy of every parameter of the model's adapted layers, base weight and bias
// included, so an expert merged into W0 is part of it; a parameter a state lacks (an expert added
// later) counts as zero. The probe restores the model's parameters when it returns or throws.
#ifndef EVERLORA_CONTINUAL_CONNECTIVITY_HPP
#define EVERLORA_CONTINUAL_CONNECTIVITY_HPP

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "everlora/adapters/attach.hpp"
#include "everlora/continual/workload.hpp"
#include "everlora/metrics/svg.hpp"

namespace everlora {

/// Copies of parameters, by model path.
template <class T>
using ParameterState = std::map<std::string, Tensor<T>>;

enum class Interpolation { ab, delta_w };

inline const char* to_string(Interpolation mode) { return mode == Interpolation::ab ? "ab" : "delta_w"; }

/// One α of a probe: loss (mean training loss) and score (percent) of the two tasks.
struct ConnectivityPoint {
  double alpha = 0;
  double loss_from = 0, loss_to = 0;
  double score_from = 0, score_to = 0;
};

struct ConnectivityOptions {
  Index points = 21;         ///< values of α from 0 to 1
  Index loss_examples = 64;  ///< training examples of each task the loss is averaged over
  Index batch = 16;          ///< examples per forward pass for the loss
  Split split = Split::test; ///< the split scored
};

namespace detail {

/// The live parameters of the model's adapted layers, by path.
template <class T>
ParameterState<T> adapted_parameters(Module<T>& model) {
  ParameterState<T> out;
  for (auto& [path, layer] : adapted_layers(model))
    for (auto& [name, p] : layer->named_parameters()) out.emplace(path + "." + name, p);
  return out;
}

/// Puts the saved values back into the live parameters when the scope ends (return or throw).
template <class T>
class RestoreParameters {
 public:
  explicit RestoreParameters(const ParameterState<T>& live) : live_(live) {
    for (const auto& [name, p] : live_) saved_.emplace(name, p.clone());
  }
  ~RestoreParameters() {
    for (auto& [name, p] : live_) Tensor<T>(p).vec() = saved_.at(name).vec();
  }
  RestoreParameters(const RestoreParameters&) = delete;
  RestoreParameters& operator=(const RestoreParameters&) = delete;

 private:
  const ParameterState<T>& live_;
  ParameterState<T> saved_;
};

/// Every live parameter ← (1 − α)·from + α·to, a state lacking it counting as zero.
template <class T>
void assign_interpolated(ParameterState<T>& live, const ParameterState<T>& from, const ParameterState<T>& to, double alpha) {
  for (auto& [name, p] : live) {
    auto v = Tensor<T>(p).vec();
    v.setZero();
    const auto f = from.find(name), t = to.find(name);
    if (f != from.end()) v += static_cast<T>(1.0 - alpha) * f->second.vec();
    if (t != to.end()) v += static_cast<T>(alpha) * t->second.vec();
  }
}

/// Throws Error(config) unless every parameter of `state` is one of the live ones, same shape.
template <class T>
void check_state(const ParameterState<T>& live, const ParameterState<T>& state, const char* which) {
  for (const auto& [name, p] : state) {
    const auto it = live.find(name);
    if (it == live.end())
      throw Error(ErrorKind::config, std::string("connectivity_probe: ") + which + " holds '" + name +
                                         "', which is not a parameter of the model's adapted layers");
    if (it->second.shape() != p.shape())
      throw Error(ErrorKind::shape, std::string("connectivity_probe: '") + name + "' is " + p.shape().str() + " in " +
                                        which + " and " + it->second.shape().str() + " in the model");
  }
}

/// Σ_e s_e·gate(ΔW_e) of every adapted layer, in the model's current state, by layer path.
template <class T>
std::map<std::string, Tensor<T>> summed_updates(Module<T>& model) {
  std::map<std::string, Tensor<T>> out;
  for (auto& [path, layer] : adapted_layers(model)) {
    if (!layer->combiner().mergeable())
      throw Error(ErrorKind::config, std::string("connectivity_probe: ΔW interpolation needs constant combiner weights; '") +
                                         path + "' mixes its experts with a " + layer->combiner().type_name());
    out.emplace(path, layer->summed_update());
  }
  return out;
}

/// Mean of the training loss over the first `examples` training examples of `task`, in batches.
template <class T>
double mean_task_loss(Workload<T>& workload, Index task, const ConnectivityOptions& o) {
  const Index n = std::min(o.loss_examples, workload.train_size(task));
  double total = 0;
  Index batches = 0;
  for (Index begin = 0; begin < n; begin += o.batch, ++batches) {
    std::vector<ExampleRef> batch;
    for (Index i = begin; i < std::min(n, begin + o.batch); ++i) batch.push_back({task, i});
    total += static_cast<double>(workload.loss(batch).item());
  }
  return batches > 0 ? total / static_cast<double>(batches) : 0.0;
}

}  // namespace detail

/// Whether every adapted layer mixes its experts with constant weights (as merging and the ΔW
/// interpolation need).
template <class T>
bool constant_combiner_weights(Module<T>& model) {
  for (auto& [path, layer] : adapted_layers(model))
    if (!layer->combiner().mergeable()) return false;
  return true;
}

/// A copy of every parameter of the model's adapted layers (experts, combiners, gates, and the
/// base weight and bias, which a merge changes): the state the probe interpolates.
template <class T>
ParameterState<T> capture_adapted_state(Module<T>& model) {
  ParameterState<T> out;
  for (const auto& [name, p] : detail::adapted_parameters(model)) out.emplace(name, p.clone());
  return out;
}

/// The loss and score of tasks `task_from` and `task_to` at `options.points` values of α between
/// the states `from` (α = 0) and `to` (α = 1); see the file comment. The model's parameters are
/// restored afterwards. Throws Error(config) for a state holding a parameter the model's adapted
/// layers lack, Error(shape) for one of another shape, and, for delta_w, Error(config) when a
/// layer's combiner weights depend on the input.
template <class T>
std::vector<ConnectivityPoint> connectivity_probe(Workload<T>& workload, const ParameterState<T>& from, const ParameterState<T>& to,
                                                  Index task_from, Index task_to, Interpolation mode,
                                                  const ConnectivityOptions& options = {}) {
  if (options.points < 2 || options.loss_examples < 1 || options.batch < 1)
    throw Error(ErrorKind::config, "connectivity_probe: needs points >= 2, loss_examples >= 1 and batch >= 1");
  for (Index t : {task_from, task_to})
    if (t < 0 || t >= workload.num_tasks())
      throw Error(ErrorKind::config, "connectivity_probe: task " + std::to_string(t) + " is not in 0.." +
                                         std::to_string(workload.num_tasks() - 1));
  Module<T>& model = workload.model();
  ParameterState<T> live = detail::adapted_parameters(model);
  detail::check_state(live, from, "the first state");
  detail::check_state(live, to, "the second state");
  const detail::RestoreParameters<T> restore(live);
  NoGrad no_graph;
  const EvalMode<T> eval_mode(model);

  std::map<std::string, Tensor<T>> update_from, update_to;
  if (mode == Interpolation::delta_w) {
    detail::assign_interpolated(live, from, to, 0.0);
    update_from = detail::summed_updates(model);
    detail::assign_interpolated(live, from, to, 1.0);
    update_to = detail::summed_updates(model);
  }
  std::vector<ConnectivityPoint> curve;
  for (Index i = 0; i < options.points; ++i) {
    const double alpha = static_cast<double>(i) / static_cast<double>(options.points - 1);
    detail::assign_interpolated(live, from, to, alpha);
    if (mode == Interpolation::delta_w)
      for (auto& [path, layer] : adapted_layers(model)) {
        for (std::size_t e = 0; e < layer->experts().size(); ++e) layer->experts()[e].b().vec().setZero();
        layer->weight().vec() += static_cast<T>(1.0 - alpha) * update_from.at(path).vec() +
                                 static_cast<T>(alpha) * update_to.at(path).vec();
      }
    ConnectivityPoint p;
    p.alpha = alpha;
    p.loss_from = detail::mean_task_loss(workload, task_from, options);
    p.loss_to = detail::mean_task_loss(workload, task_to, options);
    p.score_from = workload.score(task_from, options.split);
    p.score_to = workload.score(task_to, options.split);
    curve.push_back(p);
  }
  return curve;
}

/// One probe's curve with its parametrisation, for reports.
struct ConnectivityCurve {
  Interpolation mode = Interpolation::ab;
  std::vector<ConnectivityPoint> points;
};

/// CSV: mode,alpha,loss_<from>,loss_<to>,score_<from>,score_<to>, one row per point of each curve.
inline std::string connectivity_csv(const std::vector<ConnectivityCurve>& curves, const std::string& from, const std::string& to) {
  std::string csv = "mode,alpha,loss_" + from + ",loss_" + to + ",score_" + from + ",score_" + to + "\n";
  char line[160];
  for (const auto& c : curves)
    for (const auto& p : c.points) {
      std::snprintf(line, sizeof line, "%s,%.4f,%.6f,%.6f,%.4f,%.4f\n", to_string(c.mode), p.alpha, p.loss_from,
                    p.loss_to, p.score_from, p.score_to);
      csv += line;
    }
  return csv;
}

/// The scores of both tasks against α, one line per task and parametrisation (all curves must
/// have the same α's).
inline std::string connectivity_svg(const std::vector<ConnectivityCurve>& curves, const std::string& from,
                                    const std::string& to, const std::string& title) {
  std::vector<std::string> alphas;
  if (!curves.empty())
    for (const auto& p : curves.front().points) alphas.push_back(detail::fixed(p.alpha, 2));
  std::vector<std::pair<std::string, std::vector<double>>> series;
  for (const auto& c : curves) {
    const std::string how = c.mode == Interpolation::ab ? " (A,B)" : " (ΔW)";
    std::vector<double> a, b;
    for (const auto& p : c.points) a.push_back(p.score_from), b.push_back(p.score_to);
    series.emplace_back(from + how, std::move(a));
    series.emplace_back(to + how, std::move(b));
  }
  return svg_line_chart(alphas, series, title, "score (%)");
}

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_CONNECTIVITY_HPP
