// cl_scaling — what a method costs as tasks accumulate: step time, inference time and peak RSS
// against K, the number of experts per adapted layer, on the reference workload of lora_step
// (reference_workload.hpp). At each K the model is as the method leaves it at task K: K − 1 frozen
// experts of earlier tasks (non-zero B) and the newest one training.
//   inc_lora         the K experts summed (unmerged)
//   inc_lora_merged  the K − 1 earlier experts merged into W0 (IncLoRA's and JumpLoRA's merge)
//   am_lora          AttentionMixer over the K experts, per token
//   sapt             SharedAttentionRouter with K keys, one weight vector per example
//   moa              training: the newest expert alone (forced); inference: top-1 per example
// train = forward + cross-entropy + backward + AdamW over what trains at task K; infer = forward.
// One JSON line per (method, K, mode); a table of tokens/s and the slope per added expert on
// stderr: the least-squares line cost(K) = a + b·K through every K measured, b / (a + b), the
// growth per expert as a share of the single-expert cost (a fit, so no single noisy point decides
// it); --svg FILE writes throughput against K.
//   build/benchmarks/cl_scaling [--k-max K] [--methods a,b] [--svg FILE] [--quick] [--repeats N]
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "bench_common.hpp"
#include "everlora/continual.hpp"
#include "everlora/io/atomic_file.hpp"
#include "everlora/metrics/svg.hpp"
#include "everlora/optim.hpp"
#include "reference_workload.hpp"

namespace {

using namespace everlora;

/// b / (a + b) for the least-squares line cost = a + b·K (0 with fewer than two K).
double slope_per_expert(const std::vector<Index>& ks, const std::vector<double>& costs) {
  const double n = double(ks.size());
  if (ks.size() < 2) return 0.0;
  double mean_k = 0, mean_cost = 0;
  for (std::size_t i = 0; i < ks.size(); ++i) mean_k += double(ks[i]) / n, mean_cost += costs[i] / n;
  double covariance = 0, variance = 0;
  for (std::size_t i = 0; i < ks.size(); ++i) {
    covariance += (double(ks[i]) - mean_k) * (costs[i] - mean_cost);
    variance += (double(ks[i]) - mean_k) * (double(ks[i]) - mean_k);
  }
  const double b = covariance / variance, a = mean_cost - b * mean_k;
  return b / (a + b);
}

const std::vector<std::string> kMethods = {"inc_lora", "inc_lora_merged", "am_lora", "sapt", "moa"};

struct Timing {
  double train_s = 0, infer_s = 0, peak_rss_mb = 0;
};

/// Builds `method`'s model at K experts and times one training step and one forward pass.
Timing measure(const std::string& method, Index k, const bench::ReferenceWorkload& w, const bench::Args& args) {
  release_cached_memory();
  bench::reset_peak_rss();
  GPT<float> model(w.gpt());
  const LoraConfig lora = w.lora();
  Rng rng(17);
  bench::add_earlier_experts(model, lora, k - 1, rng);
  if (method == "inc_lora_merged")
    for (auto& [path, layer] : adapted_layers(model))
      for (Index e = 0; e + 1 < k; ++e) layer->merge_expert("task" + std::to_string(e));
  attach(model, lora, "newest");
  std::shared_ptr<ExampleRouter<float>> router;
  if (method == "am_lora") {
    for (auto& [path, layer] : adapted_layers(model))
      layer->set_combiner(std::make_shared<AttentionMixer<float>>(layer->in_features(), layer->out_features(), AttentionMixerConfig{}, rng));
  } else if (method == "sapt") {
    auto shared = std::make_shared<SharedAttentionRouter<float>>(w.d, 100, rng);
    for (Index e = 0; e < k; ++e) shared->add_key(rng);
    router = shared;
  } else if (method == "moa") {
    router = std::make_shared<bench::RoundRobinRouter>(k);
  }
  if (router) {
    model.add_child("router", router);
    route_layers_through<float>(model, router);
  }
  std::vector<std::int32_t> ids, targets;
  w.tokens(rng, ids, targets);
  const RoutingInput<float> prompt{embedding(model.wte().weight(), ids, {w.batch, w.seq}), Tensor<float>::ones({w.batch, w.seq})};
  AdamW<float> optimizer(model.trainable_parameters());

  Timing t;
  t.train_s = bench::median_seconds(
      [&] {
        if (method == "moa") router->force(k - 1);  // stage 1: the newest expert alone
        const RoutedForward<float> routed(router.get(), w.batch, [&] { return prompt; });
        Tensor<float> loss = cross_entropy(model.forward(ids, w.batch, w.seq), targets);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        if (router) router->release();
      },
      args.warmup, args.repeats);
  t.infer_s = bench::median_seconds(
      [&] {
        NoGrad no_graph;
        const RoutedForward<float> routed(router.get(), w.batch, [&] { return prompt; });
        model.forward(ids, w.batch, w.seq);
      },
      args.warmup, args.repeats);
  t.peak_rss_mb = bench::peak_rss_mb();
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  Index k_max = 32;
  std::string svg_path, method_list;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--k-max") && i + 1 < argc) k_max = std::max<Index>(1, std::atol(argv[++i]));
    else if (!std::strcmp(argv[i], "--svg") && i + 1 < argc) svg_path = argv[++i];
    else if (!std::strcmp(argv[i], "--methods") && i + 1 < argc) method_list = argv[++i];
    else rest.push_back(argv[i]);
  }
  const bench::Args args = bench::parse_args(
      int(rest.size()), rest.data(),
      "cl_scaling [--k-max K] [--methods inc_lora,inc_lora_merged,am_lora,sapt,moa] [--svg FILE]:\n"
      "train-step and inference time and peak RSS against the number of experts K = 1, 2, 4, … K_max\n"
      "on the reference LoRA workload, one JSON line per method, K and mode.");
  const bench::ReferenceWorkload w = args.quick ? bench::ReferenceWorkload::quick() : bench::ReferenceWorkload{};
  if (args.quick) k_max = std::min<Index>(k_max, 4);
  const std::vector<std::string> methods = method_list.empty() ? kMethods : bench::split_list(method_list);
  for (const auto& m : methods)
    if (std::find(kMethods.begin(), kMethods.end(), m) == kMethods.end()) {
      std::fprintf(stderr, "cl_scaling: unknown method '%s' (known: inc_lora, inc_lora_merged, am_lora, sapt, moa)\n", m.c_str());
      return 2;
    }
  std::vector<Index> ks;
  for (Index k = 1; k <= k_max; k *= 2) ks.push_back(k);

  std::map<std::string, std::vector<Timing>> timings;
  for (const auto& method : methods)
    for (Index k : ks) {
      const Timing t = measure(method, k, w, args);
      timings[method].push_back(t);
      for (const char* mode : {"train", "infer"}) {
        const double s = std::strcmp(mode, "train") == 0 ? t.train_s : t.infer_s;
        bench::emit({{"bench", "cl_scaling"}, {"method", method}, {"k", k}, {"mode", mode},
                     {"step_ms_median", s * 1e3}, {"tokens_per_s", double(w.tokens()) / s},
                     {"peak_rss_mb", t.peak_rss_mb}, {"threads", num_threads()}});
      }
      std::fprintf(stderr, "cl_scaling %-16s K=%-3td train %8.1f ms  infer %8.1f ms  peak RSS %6.0f MB\n", method.c_str(), k,
                   t.train_s * 1e3, t.infer_s * 1e3, t.peak_rss_mb);
    }

  std::fprintf(stderr, "\n%-16s %-6s", "method", "mode");
  for (Index k : ks) std::fprintf(stderr, " %9s", ("K=" + std::to_string(k)).c_str());
  std::fprintf(stderr, "  slope/expert\n");
  std::vector<std::pair<std::string, std::vector<double>>> series;  // throughput in % of K = 1
  for (const auto& method : methods)
    for (const char* mode : {"train", "infer"}) {
      const bool train = std::strcmp(mode, "train") == 0;
      std::vector<double> relative;
      std::fprintf(stderr, "%-16s %-6s", method.c_str(), mode);
      for (const Timing& t : timings[method]) {
        const double s = train ? t.train_s : t.infer_s, s1 = train ? timings[method].front().train_s : timings[method].front().infer_s;
        std::fprintf(stderr, " %9.0f", double(w.tokens()) / s);
        relative.push_back(100.0 * s1 / s);
      }
      std::vector<double> costs;
      for (const Timing& t : timings[method]) costs.push_back(train ? t.train_s : t.infer_s);
      const double slope = slope_per_expert(ks, costs);
      std::fprintf(stderr, "  %+10.2f%%\n", 100.0 * slope);
      bench::emit({{"bench", "cl_scaling"}, {"method", method}, {"mode", mode}, {"k_max", ks.back()},
                   {"slope_per_expert", slope}, {"threads", num_threads()}});
      series.emplace_back(method + " " + mode, std::move(relative));
    }
  if (!svg_path.empty()) {
    std::vector<std::string> labels;
    for (Index k : ks) labels.push_back("K=" + std::to_string(k));
    write_file_atomically(svg_path, svg_line_chart(labels, series, "Throughput against the number of experts, in % of K = 1",
                                                   "% of K = 1 tokens/s"));
    std::fprintf(stderr, "wrote %s\n", svg_path.c_str());
  }
  return 0;
}
