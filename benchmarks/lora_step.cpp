// lora_step — the reference LoRA workload of BENCHMARKS.md, the same as
// shared/bench/torch_lora_ref.py: a GPT (vocab 256, d_model 512, 4 layers, 8 heads, sequence 128,
// batch 8 = 1024 tokens a step), base frozen, LoRA r = 8, α = 16 on q, k, v, o, fc1, fc2.
//   train  forward + cross-entropy + backward + AdamW on the LoRA parameters only
//   infer  forward only
//   mix K  K experts per adapted linear (K−1 frozen, from "earlier tasks"), mixed per token by
//          w = softmax((x·Wqᵀ)·keysᵀ/√16) as the reference's mixture; the newest expert and the
//          mixer train
//   top1   inference with K = 1, 4 and 16 experts per adapted linear under per-example top-1
//          routing (MoA: example b runs expert b mod K alone), beside K = 16 summed (every expert
//          on every token): the routed cost should not grow with K
// One JSON line per mode with the reference's keys; FLOPs counted with its formula.
//   build/benchmarks/lora_step [train|infer|mix|top1|all] [--k K] [--quick] [--repeats N] [--threads N]
#include <cmath>
#include <cstdio>
#include <cstring>

#include "bench_common.hpp"
#include "reference_workload.hpp"
#include "everlora/adapters.hpp"
#include "everlora/optim.hpp"

namespace {

using namespace everlora;

/// The reference's token mixer: w = softmax((x·Wqᵀ)·keysᵀ / √dk) for every row of x.
class TokenMixer : public Combiner<float> {
 public:
  TokenMixer(Index in, Index experts, Index dk, Rng& rng) : dk_(dk) {
    register_parameter("wq", wq_, Tensor<float>::normal({dk, in}, rng, 0.0f, 1.0f / std::sqrt(float(in))));
    register_parameter("keys", keys_, Tensor<float>::normal({experts, dk}, rng, 0.0f, 1.0f));
  }
  const char* type_name() const override { return "TokenMixer"; }
  bool mergeable() const override { return false; }
  Tensor<float> weights(const CombinerInput<float>& in) override {
    const Tensor<float>& x = in.x;
    const Tensor<float> rows = reshape(x, {x.shape().rows(), x.shape().last()});
    return softmax(matmul_nt(matmul_nt(rows, wq_), keys_) * (1.0f / std::sqrt(float(dk_))));
  }

 private:
  Index dk_;
  Tensor<float> wq_, keys_;
};

/// Matmul FLOPs of one step, exactly as torch_lora_ref.py's step_flops.
double step_flops(const bench::ReferenceWorkload& w, const std::string& mode, Index k) {
  const double T = double(w.batch * w.seq), d = double(w.d), f = 4 * d, V = 256, S = double(w.seq), r = double(w.rank);
  const double lin_io = 4 * d * d + 2 * d * f, lin_sum = 4 * (d + d) + (d + f) + (f + d);
  const double base = 2 * T * (double(w.layers) * lin_io + d * V);
  const double lora1 = 2 * T * double(w.layers) * r * lin_sum;
  const double attn = double(w.layers) * 2 * (2 * double(w.batch) * S * S * d);
  const double in_sum = 4 * d + d + f;
  const double mixer = k > 1 ? 2 * T * double(w.layers) * (in_sum * 16 + 6 * 16 * double(k)) : 0;
  const double fwd = base + double(k) * lora1 + attn + mixer;
  const double bwd = base + 2 * attn + 2 * lora1 + double(k - 1) * lora1 + 2 * mixer;
  return mode == "infer" ? fwd : fwd + bwd;
}

/// mode "top1": routed (or, with `summed`, plain Sum) inference over K experts per layer.
void run(const std::string& mode, Index k, const bench::ReferenceWorkload& w, const bench::Args& args, bool summed = false) {
  GPT<float> model(w.gpt());
  const LoraConfig lora = w.lora();
  Rng rng(11);
  bench::add_earlier_experts(model, lora, k - 1, rng);
  attach(model, lora, "newest");
  auto router = std::make_shared<bench::RoundRobinRouter>(k);
  if (mode == "top1" && !summed)
    for (auto& [path, layer] : adapted_layers(model)) layer->set_combiner(std::make_shared<RoutedCombiner<float>>(router));
  else if (k > 1 && mode == "mix")
    for (auto& [path, layer] : adapted_layers(model))
      layer->set_combiner(std::make_shared<TokenMixer>(layer->in_features(), k, 16, rng));
  AdamW<float> optimizer(model.named_parameters());

  std::vector<std::int32_t> ids, targets;
  w.tokens(rng, ids, targets);
  float first = 0, last = 0;
  auto step = [&] {
    if (mode == "infer" || mode == "top1") {
      NoGrad no_graph;
      const RoutedForward<float> routed(mode == "top1" && !summed ? router.get() : nullptr, w.batch, [&] {
        return RoutingInput<float>{Tensor<float>::zeros({w.batch, 1, 1}), Tensor<float>::ones({w.batch, 1})};
      });
      last = model.forward(ids, w.batch, w.seq)[0];
      return;
    }
    auto loss = cross_entropy(model.forward(ids, w.batch, w.seq), targets);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    last = loss.item();
    if (first == 0) first = last;
  };
  const double seconds = bench::median_seconds(step, args.warmup, args.repeats);
  // top-1 runs one expert per token, like plain inference with one; summed runs all K
  const double flops = mode == "top1" ? step_flops(w, "infer", summed ? k : 1) : step_flops(w, mode, k);
  const double tokens = double(w.batch * w.seq);
  const std::string label = mode == "top1" && summed ? "sum" : mode;
  bench::emit({{"bench", "lora_step"}, {"mode", label}, {"k", k}, {"tokens_per_s", tokens / seconds},
               {"step_ms_median", seconds * 1e3}, {"gflop_per_step", flops * 1e-9},
               {"gflops_achieved", flops / seconds * 1e-9}, {"peak_rss_mb", bench::peak_rss_mb()},
               {"threads", num_threads()}, {"trainable_parameters", model.num_parameters(true)},
               {"loss_first", first}, {"loss_last", last}});
  std::fprintf(stderr, "lora_step %-5s k=%td: %8.0f tokens/s  %7.1f ms/step  %6.1f GFLOP/s  peak RSS %.0f MB\n",
               label.c_str(), k, tokens / seconds, seconds * 1e3, flops / seconds * 1e-9, bench::peak_rss_mb());
}

}  // namespace

int main(int argc, char** argv) {
  // The mode and --k are this benchmark's own; the rest are the common flags.
  std::string mode = "all";
  Index k = 5;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "train") || !std::strcmp(argv[i], "infer") || !std::strcmp(argv[i], "mix") ||
        !std::strcmp(argv[i], "top1") || !std::strcmp(argv[i], "all"))
      mode = argv[i];
    else if (!std::strcmp(argv[i], "--k") && i + 1 < argc)
      k = std::max<Index>(2, std::atol(argv[++i]));
    else
      rest.push_back(argv[i]);
  }
  const bench::Args args = bench::parse_args(
      int(rest.size()), rest.data(),
      "lora_step [train|infer|mix|top1|all] [--k K]: the reference LoRA workload (BENCHMARKS.md),\n"
      "the same as shared/bench/torch_lora_ref.py, one JSON line per mode.");
  const bench::ReferenceWorkload w = args.quick ? bench::ReferenceWorkload::quick() : bench::ReferenceWorkload{};
  if (mode == "train" || mode == "all") run("train", 1, w, args);
  if (mode == "infer" || mode == "all") run("infer", 1, w, args);
  if (mode == "mix" || mode == "all") run("mix", k, w, args);
  if (mode == "top1" || mode == "all") {
    for (Index experts : {1, 4, 16}) run("top1", experts, w, args);
    run("top1", 16, w, args, /*summed=*/true);
  }
  return 0;
}
