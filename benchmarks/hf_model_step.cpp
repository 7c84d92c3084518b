// hf_model_step — a real model's shape end to end: write a random model of that shape as a
// Hugging Face folder (bfloat16, as the Hub ships them), load it, train LoRA steps, generate.
// tools/torch_decoder_bench.py measures the same in PyTorch; scripts/bench_models_vs_torch.sh runs
// both, alternating, and prints the ratios (docs/models.md).
//   hf_model_step --shape smollm2-135m|qwen2.5-0.5b|qwen2.5-1.5b|tiny [--batch 1] [--seq 128]
//                 [--steps 3] [--generate 32] [--rank 8] [--bf16] [--dir FOLDER] [--threads N] [--quick]
// One JSON line: load seconds, the memory after loading, train tokens/s (median step), prefill
// and decode tokens/s of greedy generation over the KV cache, and the peak RSS. --bf16 holds the
// frozen base in bfloat16 (HfLoadOptions::bf16_weights).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "cl_bases.hpp"
#include "hf_base.hpp"
#include "everlora/everlora.hpp"

namespace {

using namespace everlora;

/// The shapes of real models (their config.json), and a tiny one for the smoke test.
DecoderConfig shape(const std::string& name) {
  DecoderConfig c;
  c.tie_word_embeddings = true;
  c.seed = 7;
  if (name == "smollm2-135m") {  // HuggingFaceTB/SmolLM2-135M
    c.family = DecoderFamily::llama;
    c.vocab_size = 49152, c.hidden_size = 576, c.intermediate_size = 1536, c.num_hidden_layers = 30;
    c.num_attention_heads = 9, c.num_key_value_heads = 3, c.max_position_embeddings = 8192;
    c.norm_eps = 1e-5, c.rope_theta = 100000;
  } else if (name == "qwen2.5-0.5b" || name == "qwen2.5-1.5b") {  // Qwen/Qwen2.5-0.5B, -1.5B
    const bool small = name == "qwen2.5-0.5b";
    c.family = DecoderFamily::qwen2;
    c.vocab_size = 151936, c.hidden_size = small ? 896 : 1536, c.intermediate_size = small ? 4864 : 8960;
    c.num_hidden_layers = small ? 24 : 28, c.num_attention_heads = small ? 14 : 12, c.num_key_value_heads = 2;
    c.max_position_embeddings = 32768, c.norm_eps = 1e-6, c.rope_theta = 1000000, c.qkv_bias = true;
  } else if (name == "tiny") {
    c.family = DecoderFamily::llama;
    c.vocab_size = 1000, c.hidden_size = 64, c.intermediate_size = 128, c.num_hidden_layers = 2;
    c.num_attention_heads = 4, c.num_key_value_heads = 2, c.max_position_embeddings = 512;
  } else {
    throw Error(ErrorKind::config, "hf_model_step: unknown --shape '" + name + "' (smollm2-135m, qwen2.5-0.5b, qwen2.5-1.5b, tiny)");
  }
  c.head_dim = c.hidden_size / c.num_attention_heads;
  c.torch_dtype = "bfloat16";
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A real model's shape: write it as a Hugging Face folder, load it, train LoRA steps, generate."};
  std::string name = "smollm2-135m", dir;
  Index batch = 1, seq = 128, steps = 3, new_tokens = 32, rank = 8;
  int threads = 0;
  bool quick = false, bf16 = false;
  app.add_option("--shape", name, "smollm2-135m, qwen2.5-0.5b, qwen2.5-1.5b or tiny")->capture_default_str();
  app.add_option("--batch", batch, "sequences per training step")->capture_default_str();
  app.add_option("--seq", seq, "tokens per sequence")->capture_default_str();
  app.add_option("--steps", steps, "timed training steps (after one untimed)")->capture_default_str();
  app.add_option("--generate", new_tokens, "greedy tokens to generate after a prompt of 32")->capture_default_str();
  app.add_option("--rank", rank, "LoRA rank on every projection (all-linear)")->capture_default_str();
  app.add_option("--dir", dir, "model folder to write once and read (default: <cache>/shapes/<shape>)");
  app.add_option("--threads", threads, "threads (default: all cores)");
  app.add_flag("--bf16", bf16, "hold the frozen base's matrices in bfloat16");
  app.add_flag("--quick", quick, "the tiny shape, two steps (the smoke test)");
  CLI11_PARSE(app, argc, argv);
  if (quick) name = "tiny", steps = 2, seq = 32, new_tokens = 4, dir = dir.empty() ? "hf_model_step_tiny" : dir;
  if (threads > 0) set_num_threads(threads);
  try {
    const DecoderConfig config = shape(name);
    if (dir.empty()) dir = bench::default_cache_dir() + "/shapes/" + name;
    if (!bench::is_model_folder(dir)) {  // random weights of the shape, written once
      const auto start = std::chrono::steady_clock::now();
      std::filesystem::create_directories(dir);
      DecoderLM<float> random(config);
      save_hf_model(random, dir);
      std::fprintf(stderr, "hf_model_step: wrote %s (%.1fM parameters, bfloat16) in %.1f s\n", dir.c_str(),
                   static_cast<double>(random.num_parameters()) / 1e6, bench::seconds_since(start));
    }
    release_cached_memory();
    bench::reset_peak_rss();
    auto start = std::chrono::steady_clock::now();
    auto model = load_hf_model<float>(dir, {bf16});
    const double load_seconds = bench::seconds_since(start), rss_loaded = bench::peak_rss_mb();

    LoraConfig lora;
    lora.r = rank;
    lora.alpha = 2.0 * static_cast<double>(rank);
    lora.target_modules = config.projection_names();
    attach(*model, lora);
    AdamW<float> optimizer(model->named_parameters());
    Rng rng(1);
    std::vector<std::int32_t> ids(static_cast<std::size_t>(batch * seq)), targets(ids.size(), kIgnoreIndex);
    for (auto& id : ids) id = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(config.vocab_size)));
    for (Index b = 0; b < batch; ++b)
      for (Index t = 0; t + 1 < seq; ++t) targets[static_cast<std::size_t>(b * seq + t)] = ids[static_cast<std::size_t>(b * seq + t + 1)];
    double first_loss = 0, last_loss = 0;
    auto train_step = [&] {
      optimizer.zero_grad();
      Tensor<float> loss = cross_entropy(reshape(model->forward(ids, batch, seq), {batch * seq, config.vocab_size}), targets);
      loss.backward();
      optimizer.step();
      last_loss = loss[0];
    };
    train_step();
    first_loss = last_loss;
    const double step = bench::median_seconds(train_step, 0, static_cast<int>(steps));

    const std::vector<std::int32_t> prompt(ids.begin(), ids.begin() + std::min<Index>(32, seq));
    GenerateOptions greedy;
    greedy.greedy = true;
    greedy.max_new_tokens = 1;
    start = std::chrono::steady_clock::now();
    generate(*model, prompt, greedy, rng);  // the prompt's forward pass and one token
    const double prefill = bench::seconds_since(start);
    greedy.max_new_tokens = new_tokens;
    start = std::chrono::steady_clock::now();
    const auto out = generate(*model, prompt, greedy, rng);
    const double decode = (bench::seconds_since(start) - prefill) / static_cast<double>(std::max<std::size_t>(1, out.size() - 1));

    bench::emit({{"bench", "hf_model_step"}, {"shape", name}, {"dtype", bf16 ? "bf16" : "f32"}, {"parameters", model->num_parameters()},
                 {"trainable", model->num_parameters(true)}, {"load_s", load_seconds}, {"rss_after_load_mb", rss_loaded},
                 {"batch", batch}, {"seq", seq}, {"train_step_s", step},
                 {"train_tokens_per_s", static_cast<double>(batch * seq) / step}, {"loss_first", first_loss},
                 {"loss_last", last_loss}, {"prefill_tokens_per_s", static_cast<double>(prompt.size()) / prefill},
                 {"decode_tokens_per_s", 1.0 / decode}, {"generated", out.size()}, {"peak_rss_mb", bench::peak_rss_mb()},
                 {"threads", num_threads()}});
  } catch (const Error& e) {
    std::fprintf(stderr, "hf_model_step: %s\n", e.what());
    return 1;
  }
  return 0;
}
