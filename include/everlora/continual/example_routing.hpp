// everlora — what SAPT and MoA share around their routers: installing a router in a model, the
// routing weights of a task's examples, and the report of how each task's inputs are routed
// (the routing matrix and the share of inputs whose largest weight is on their own task's expert).
#ifndef EVERLORA_CONTINUAL_EXAMPLE_ROUTING_HPP
#define EVERLORA_CONTINUAL_EXAMPLE_ROUTING_HPP

#include <algorithm>
#include <memory>
#include <vector>

#include "everlora/adapters/combiners/example_router.hpp"
#include "everlora/continual/strategy.hpp"
#include "everlora/continual/workload.hpp"
#include "everlora/core/ops/shape_ops.hpp"
#include "everlora/data/prompt.hpp"

namespace everlora {

/// Adds `router` to the workload's model as its child "router" and makes the workload route every
/// forward pass through it.
template <class T>
void install_router(Workload<T>& workload, const std::shared_ptr<ExampleRouter<T>>& router) {
  workload.model().add_child("router", router);
  workload.set_router(router.get());
}

/// The first `limit` examples (0: all) of a task's split.
template <class T>
std::vector<ExampleRef> split_examples(const Workload<T>& workload, Index task, Split split, Index limit = 0) {
  Index count = workload.split_size(task, split);
  if (limit > 0) count = std::min(count, limit);
  std::vector<ExampleRef> refs;
  for (Index i = 0; i < count; ++i) refs.push_back({task, i});
  return refs;
}

/// The width of what a router reads at `layer` (the prompt embeddings' at 0).
template <class T>
Index routing_width(Workload<T>& workload, Index layer) {
  return workload.routing_input({{0, 0}}, Split::train, layer).tokens.dim(2);
}

/// Up to `count` training examples of `task`, a seeded random sample (the first ones of a seeded
/// permutation).
template <class T>
std::vector<ExampleRef> sample_examples(const Workload<T>& workload, Index task, Index count, std::uint64_t seed) {
  std::vector<ExampleRef> refs;
  for (Index i : shuffled_order(workload.train_size(task), seed, 0)) {
    if (static_cast<Index>(refs.size()) == count) break;
    refs.push_back({task, i});
  }
  return refs;
}

/// The mean over rows of routing weights w [n, K].
template <class T>
std::vector<double> mean_routing_weights(const Tensor<T>& w) {
  const Index n = w.dim(0), k = w.dim(1);
  std::vector<double> mean(static_cast<std::size_t>(k), 0.0);
  for (Index i = 0; i < n; ++i)
    for (Index e = 0; e < k; ++e) mean[static_cast<std::size_t>(e)] += static_cast<double>(w[i * k + e]) / static_cast<double>(n);
  return mean;
}

/// `summarize` applied to the routing inputs of `examples` (of `split`), in chunks, without a
/// graph: [examples, width]. Summaries of a frozen embedding (or of the base model) never change,
/// so strategies keep them instead of the examples.
template <class T, class Summarize>
Tensor<T> routing_summaries(Workload<T>& workload, const std::vector<ExampleRef>& examples, Split split, Index layer,
                            Summarize&& summarize) {
  NoGrad no_graph;
  constexpr std::size_t kChunk = 256;
  std::vector<Tensor<T>> parts;
  for (std::size_t begin = 0; begin < examples.size(); begin += kChunk) {
    const std::vector<ExampleRef> chunk(examples.begin() + static_cast<std::ptrdiff_t>(begin),
                                        examples.begin() + static_cast<std::ptrdiff_t>(std::min(examples.size(), begin + kChunk)));
    parts.push_back(summarize(workload.routing_input(chunk, split, layer)));
  }
  if (parts.empty()) throw Error(ErrorKind::value, "routing_summaries: no examples");
  return parts.size() == 1 ? parts.front() : concat(parts, 0);
}

/// How a router sends each task's inputs: mean_weight[task][expert] (the routing matrix, in
/// [0, 1]) and own_expert[task], the percent of the task's inputs whose largest weight is on the
/// task's own expert (MoA's router accuracy). Expert e belongs to task e.
struct RoutingReport {
  std::vector<std::vector<double>> mean_weight;
  std::vector<double> own_expert;
};

/// The RoutingReport of `router` over the first `limit` examples (0: all) of each task's split.
template <class T>
RoutingReport measure_example_routing(Workload<T>& workload, ExampleRouter<T>& router, Split split, Index limit = 0) {
  if (router.forced() >= 0) throw Error(ErrorKind::config, "measure_example_routing: the router is forced to one expert");
  RoutingReport report;
  for (Index t = 0; t < workload.num_tasks(); ++t) {
    const Tensor<T> w = routing_summaries(workload, split_examples(workload, t, split, limit), split, router.input_layer(),
                                          [&](const RoutingInput<T>& input) { return router.compute(input); });
    const Index n = w.dim(0), k = w.dim(1);
    Index own = 0;
    for (Index i = 0; i < n; ++i) {
      const T* row = w.data() + i * k;
      own += (std::max_element(row, row + k) - row) == t ? 1 : 0;
    }
    report.mean_weight.push_back(mean_routing_weights(w));
    report.own_expert.push_back(100.0 * static_cast<double>(own) / static_cast<double>(n));
  }
  return report;
}

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_EXAMPLE_ROUTING_HPP
