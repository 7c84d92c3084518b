// 02_pretrain_gpt — pretrain a small byte-level GPT on the quotes of Debian's `fortunes`.
//
// Quotes are split (by a hash of their text) into training and held-out sets, joined with an
// end-of-text id into two byte streams, and the model learns next-byte prediction on random
// windows with AdamW, warm-up + cosine learning rate and gradient clipping. Every --eval-every
// steps it prints the held-out bits per byte (lower is better: 8 = a uniform guess over bytes)
// and saves a checkpoint; at the end it samples a few quotes.
//   build/examples/02_pretrain_gpt [--steps N] [--out DIR] [--quick] [--help]
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <everlora/data/byte_tokenizer.hpp>
#include <everlora/data/fortunes.hpp>
#include <everlora/io/gpt_checkpoint.hpp>
#include <everlora/nn.hpp>
#include <everlora/optim.hpp>
#include <everlora/util/progress.hpp>
#include <filesystem>
#include <functional>

using namespace everlora;

struct Streams {
  std::vector<std::int32_t> train, heldout;  // bytes of the quotes, each followed by kEos
};

Streams load_corpus(const std::string& dir, int heldout_percent) {
  Streams s;
  for (const Fortune& f : read_fortunes(dir)) {
    auto& stream = std::hash<std::string>{}(f.text) % 100 < static_cast<std::size_t>(heldout_percent) ? s.heldout : s.train;
    for (std::int32_t id : encode_bytes(f.text)) stream.push_back(id);
    stream.push_back(ByteVocab::kEos);
  }
  return s;
}

/// `batch` windows of length+1 ids starting at the given offsets → inputs and next-id targets.
void make_batch(const std::vector<std::int32_t>& stream, const std::vector<std::size_t>& starts,
                Index length, std::vector<std::int32_t>& inputs, std::vector<std::int32_t>& targets) {
  inputs.clear();
  targets.clear();
  for (std::size_t s : starts)
    for (Index t = 0; t < length; ++t) {
      inputs.push_back(stream[s + static_cast<std::size_t>(t)]);
      targets.push_back(stream[s + static_cast<std::size_t>(t) + 1]);
    }
}

/// Mean cross-entropy on fixed held-out windows, in bits per byte.
double heldout_bits_per_byte(GPT<float>& model, const std::vector<std::int32_t>& stream, Index length, int windows) {
  NoGrad no_graph;
  model.eval();
  std::vector<std::size_t> starts;
  const std::size_t span = stream.size() - static_cast<std::size_t>(length) - 1;
  for (int w = 0; w < windows; ++w) starts.push_back(span * static_cast<std::size_t>(w) / static_cast<std::size_t>(windows));
  std::vector<std::int32_t> inputs, targets;
  make_batch(stream, starts, length, inputs, targets);
  const double nats = cross_entropy(model.forward(inputs, windows, length), targets).item();
  model.train();
  return nats / std::log(2.0);
}

int main(int argc, char** argv) {
  CLI::App app{"Pretrain a byte-level GPT on Debian's fortunes, with held-out bits per byte."};
  int steps = 600, batch = 16, eval_every = 100, samples = 3;
  GPTConfig config;
  config.context = 128;
  config.d_model = 192;
  config.n_layers = 4;
  config.n_heads = 6;
  double lr = 3e-3;
  std::string out_dir = "pretrain_gpt", corpus = kFortunesDir;
  bool quick = false;
  app.add_option("--steps", steps, "training steps")->capture_default_str();
  app.add_option("--batch", batch, "sequences per step")->capture_default_str();
  app.add_option("--context", config.context, "sequence length")->capture_default_str();
  app.add_option("--d-model", config.d_model, "model width")->capture_default_str();
  app.add_option("--layers", config.n_layers, "transformer blocks")->capture_default_str();
  app.add_option("--heads", config.n_heads, "attention heads")->capture_default_str();
  app.add_option("--lr", lr, "peak learning rate (AdamW)")->capture_default_str();
  app.add_option("--eval-every", eval_every, "steps between held-out evaluations and checkpoints")->capture_default_str();
  app.add_option("--samples", samples, "quotes to sample at the end")->capture_default_str();
  app.add_option("--seed", config.seed, "random seed")->capture_default_str();
  app.add_option("--corpus", corpus, "folder of fortune files")->capture_default_str();
  app.add_option("--out", out_dir, "folder for checkpoints")->capture_default_str();
  app.add_flag("--quick", quick, "a tiny model for a few steps (used by the test suite)");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    steps = 8, batch = 2, eval_every = 4, samples = 1;
    config.context = 32, config.d_model = 32, config.n_layers = 1, config.n_heads = 2;
  }

  try {
    const Streams data = load_corpus(corpus, 5);
    GPT<float> model(config);
    AdamWOptions adam;
    adam.lr = lr;
    adam.weight_decay = 0.1;
    AdamW<float> optimizer(model.named_parameters(), adam);
    const WarmupCosine schedule{lr, std::max(1, steps / 20), steps, lr / 10};
    std::filesystem::create_directories(out_dir);
    const std::string checkpoint = out_dir + "/gpt.safetensors";
    std::printf("everlora %s | corpus %zu train + %zu held-out bytes | GPT d=%td L=%d H=%d T=%td, "
                "%.2fM parameters | %d threads\n",
                EVERLORA_VERSION_STRING, data.train.size(), data.heldout.size(), config.d_model,
                config.n_layers, config.n_heads, config.context,
                static_cast<double>(model.num_parameters()) / 1e6, num_threads());
    std::printf("held-out bits per byte before training: %.3f\n",
                heldout_bits_per_byte(model, data.heldout, config.context, 8));

    Rng rng(config.seed + 1);
    std::vector<std::int32_t> inputs, targets;
    Progress bar(steps, "pretrain");
    for (int step = 1; step <= steps; ++step) {
      std::vector<std::size_t> starts;
      for (int b = 0; b < batch; ++b)
        starts.push_back(rng.below(data.train.size() - static_cast<std::size_t>(config.context) - 1));
      make_batch(data.train, starts, config.context, inputs, targets);
      optimizer.set_lr(schedule(step - 1));
      Tensor<float> loss = cross_entropy(model.forward(inputs, batch, config.context), targets);
      optimizer.zero_grad();
      loss.backward();
      clip_grad_norm(optimizer.parameters(), 1.0);
      optimizer.step();
      char status[64];
      std::snprintf(status, sizeof status, "loss %.3f", loss.item());
      bar.update(1, status);
      if (step % eval_every == 0 || step == steps) {
        save_gpt(model, checkpoint, {{"step", std::to_string(step)}});
        char line[160];
        std::snprintf(line, sizeof line, "step %5d  train loss %.3f  held-out %.3f bits/byte  saved %s",
                      step, loss.item(), heldout_bits_per_byte(model, data.heldout, config.context, 8),
                      checkpoint.c_str());
        bar.print(line);
      }
    }
    bar.finish();

    GenerateOptions sampling;
    sampling.temperature = 0.8;
    sampling.top_k = 40;
    sampling.max_new_tokens = quick ? 16 : 160;
    sampling.stop_id = ByteVocab::kEos;
    const std::unique_ptr<GPT<float>> reloaded = load_gpt<float>(checkpoint);  // proves the file
    for (int i = 0; i < samples; ++i) {
      const std::vector<std::int32_t> prompt = encode_bytes(i % 2 ? "A " : "The ");
      std::vector<std::int32_t> text = prompt;
      for (std::int32_t id : generate(*reloaded, prompt, sampling, rng)) text.push_back(id);
      std::printf("\n--- sample %d ---\n%s\n", i + 1, decode_bytes(text).c_str());
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
