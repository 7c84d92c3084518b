// gpt_pretrain — full pretraining speed of the reference GPT shape (BENCHMARKS.md): vocab 256,
// d_model 512, 4 layers, 8 heads, sequence 128, batch 8 (1024 tokens a step), every weight
// trained: forward + cross-entropy + backward + AdamW. Reports tokens/s (median step), achieved
// matmul GFLOP/s (counted as in shared/bench/torch_lora_ref.py: fwd = linears + head + attention,
// train = 3 × fwd) and peak RSS, as one JSON line.
//   build/benchmarks/gpt_pretrain [--quick] [--repeats N] [--threads N]
#include <cstdio>

#include "bench_common.hpp"
#include "everlora/nn.hpp"
#include "everlora/optim.hpp"

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(
      argc, argv, "gpt_pretrain: tokens/s of full GPT pretraining at the reference shape.");
  everlora::GPTConfig config;
  config.vocab_size = 256;
  config.context = 128;
  config.d_model = args.quick ? 128 : 512;
  config.n_layers = 4;
  config.n_heads = 8;
  const everlora::Index batch = args.quick ? 2 : 8, seq = config.context;
  everlora::GPT<float> model(config);
  everlora::AdamW<float> optimizer(model.named_parameters());

  everlora::Rng rng(7);
  std::vector<std::int32_t> ids(static_cast<std::size_t>(batch * seq)), targets(ids.size());
  for (auto& id : ids) id = static_cast<std::int32_t>(rng.below(256));
  for (std::size_t i = 0; i < ids.size(); ++i) targets[i] = ids[(i + 1) % ids.size()];

  float first_loss = 0, last_loss = 0;
  auto step = [&] {
    auto loss = everlora::cross_entropy(model.forward(ids, batch, seq), targets);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    last_loss = loss.item();
    if (first_loss == 0) first_loss = last_loss;
  };
  const double seconds = bench::median_seconds(step, args.warmup, args.repeats);

  const double tokens = static_cast<double>(batch * seq), d = static_cast<double>(config.d_model);
  const double linears = 4 * d * d + 2 * d * 4 * d;  // q, k, v, o, fc1, fc2 (multiply-adds per token)
  const double fwd = 2 * tokens * (config.n_layers * linears + d * 256) +
                     config.n_layers * 2.0 * (2 * static_cast<double>(batch * seq * seq) * d);
  const double flops = 3 * fwd;
  const double tokens_per_s = tokens / seconds;
  bench::emit({{"bench", "gpt_pretrain"}, {"mode", "pretrain"}, {"k", 0},
               {"tokens_per_s", tokens_per_s}, {"step_ms_median", seconds * 1e3},
               {"gflop_per_step", flops * 1e-9}, {"gflops_achieved", flops / seconds * 1e-9},
               {"peak_rss_mb", bench::peak_rss_mb()}, {"threads", everlora::num_threads()},
               {"parameters", model.num_parameters()}, {"loss_first", first_loss},
               {"loss_last", last_loss}});
  std::fprintf(stderr,
               "gpt_pretrain d=%td L=%d B=%td T=%td: %.0f tokens/s, %.1f ms/step, %.1f GFLOP/s, "
               "peak RSS %.0f MB (loss %.3f -> %.3f)\n",
               config.d_model, config.n_layers, batch, seq, tokens_per_s, seconds * 1e3,
               flops / seconds * 1e-9, bench::peak_rss_mb(), first_loss, last_loss);
  return 0;
}
