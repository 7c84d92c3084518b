// base_pretrain — makes the bundled base model (models/everlora-base), in two steps that
// scripts/pretrain_base.sh runs with tools/train_base_tokenizer.py between them:
//   base_pretrain corpus --out DIR
//       writes DIR/corpus.txt and DIR/held_out.txt (one document a line; build_base_corpus:
//       English from Debian's packages without any dev or test example of the text benchmarks)
//       and DIR/corpus.json (bytes by source, documents, leaks dropped)
//   base_pretrain train --corpus DIR --tokenizer TOKDIR --out MODEL_DIR [--steps N] [--batch B]
//       [--seq T] [--lr LR] [--hidden H] [--layers L] [--heads A] [--kv-heads K] [--ffn F]
//       [--seed S] [--threads N] [--init MODEL_DIR]
//       pretrains a Llama-architecture DecoderLM from scratch (or, with --init, goes on from the
//       weights and architecture of a model folder such as the bundled base, with a fresh schedule,
//       its recipe, curve and fingerprint kept as the history) on next-token prediction over random
//       windows of the tokenized corpus (each document [BOS] text [EOS]), AdamW with warm-up and
//       cosine decay, gradient clipping at 1; measures the held-out loss on fixed windows every
//       --eval-every steps and at the end; writes MODEL_DIR as a Hugging Face folder (config.json,
//       model.safetensors in bfloat16, the tokenizer files) and MODEL_DIR/pretraining.json (recipe,
//       losses, time, the weights' fingerprint). Deterministic for the seed and thread count.
//   base_pretrain seal --model DIR
//       records the fingerprint of DIR's weights in DIR/pretraining.json and plots its loss curve
//       (DIR/pretraining.svg)
//   base_pretrain --quick
//       the smoke test: the corpus, then two steps of a tiny model on its held-out part with the
//       shipped base's tokenizer, then two more steps going on from it (--init)
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "everlora/data/builders/base_corpus.hpp"
#include "everlora/everlora.hpp"

namespace {

using namespace everlora;
namespace fs = std::filesystem;

struct Recipe {
  Index steps = 6000, batch = 16, seq = 128, eval_every = 500, eval_windows = 64;
  double lr = 3e-3, min_lr_fraction = 0.1, weight_decay = 0.1;
  Index hidden = 256, layers = 6, heads = 8, kv_heads = 4, ffn = 688;
  std::uint64_t seed = 1;
  std::string train_file = "corpus.txt";  ///< of the corpus folder (--quick: held_out.txt)
  std::string init;                       ///< a model folder to go on from ("": random weights)
};

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

void write_corpus(const std::string& dir) {
  const auto start = std::chrono::steady_clock::now();
  const BaseCorpus corpus = build_base_corpus();
  fs::create_directories(dir);
  write_file_atomically(dir + "/corpus.txt", join_lines(corpus.train));
  write_file_atomically(dir + "/held_out.txt", join_lines(corpus.held_out));
  nlohmann::ordered_json info;
  info["builder"] = "build_base_corpus";
  info["seed"] = BaseCorpusOptions{}.seed;
  info["documents"] = {{"train", corpus.train.size()}, {"held_out", corpus.held_out.size()}};
  info["bytes_by_source"] = corpus.bytes_by_source;
  info["leaks_dropped"] = corpus.leaks_dropped;
  write_file_atomically(dir + "/corpus.json", info.dump(2) + "\n");
  std::fprintf(stderr, "base_pretrain: wrote %s (%zu + %zu documents) in %.1f s\n", dir.c_str(), corpus.train.size(),
               corpus.held_out.size(), bench::seconds_since(start));
}

/// The documents of `path` (one a line) as one id stream, each [BOS] text [EOS].
std::vector<std::int32_t> token_stream(const Tokenizer& tokenizer, const std::string& path) {
  const std::string text = read_file(path);
  const std::int32_t eos = tokenizer.eos_id().value();
  std::vector<std::int32_t> stream;
  Progress bar(static_cast<Index>(text.size()), "tokenize " + fs::path(path).filename().string());
  for (std::size_t begin = 0; begin < text.size();) {
    const std::size_t end = std::min(text.find('\n', begin), text.size());
    const std::vector<std::int32_t> ids = tokenizer.encode(text.substr(begin, end - begin));
    stream.insert(stream.end(), ids.begin(), ids.end());
    stream.push_back(eos);
    bar.update(static_cast<Index>(end + 1 - begin));
    begin = end + 1;
  }
  bar.finish();
  return stream;
}

DecoderConfig model_config(const Recipe& r, Index vocab) {
  DecoderConfig c;
  c.family = DecoderFamily::llama;
  c.vocab_size = vocab;
  c.hidden_size = r.hidden, c.intermediate_size = r.ffn, c.num_hidden_layers = static_cast<int>(r.layers);
  c.num_attention_heads = static_cast<int>(r.heads), c.num_key_value_heads = static_cast<int>(r.kv_heads);
  c.head_dim = r.hidden / r.heads;
  c.max_position_embeddings = 1024, c.norm_eps = 1e-5, c.rope_theta = 10000.0;
  c.tie_word_embeddings = true, c.initializer_range = 0.02, c.seed = r.seed;
  c.torch_dtype = "bfloat16";
  return c;
}

/// Window starts of one batch: uniform over the stream.
void draw_batch(const std::vector<std::int32_t>& stream, Index batch, Index seq, Rng& rng, std::vector<std::int32_t>& inputs,
                std::vector<std::int32_t>& targets) {
  inputs.clear(), targets.clear();
  for (Index b = 0; b < batch; ++b) {
    const auto start = static_cast<std::ptrdiff_t>(rng.below(stream.size() - static_cast<std::size_t>(seq) - 1));
    inputs.insert(inputs.end(), stream.begin() + start, stream.begin() + start + seq);
    targets.insert(targets.end(), stream.begin() + start + 1, stream.begin() + start + seq + 1);
  }
}

/// Mean next-token loss (nats) over fixed, evenly spaced windows of the held-out stream.
double held_out_loss(DecoderLM<float>& model, const std::vector<std::int32_t>& stream, const Recipe& r) {
  NoGrad no_graph;
  const EvalMode<float> eval(model);
  const Index windows = std::min<Index>(r.eval_windows, static_cast<Index>(stream.size()) / (r.seq + 1));
  double total = 0;
  for (Index w = 0; w < windows; ++w) {
    const auto start = static_cast<std::ptrdiff_t>(w * (r.seq + 1));
    const std::vector<std::int32_t> in(stream.begin() + start, stream.begin() + start + r.seq);
    const std::vector<std::int32_t> target(stream.begin() + start + 1, stream.begin() + start + r.seq + 1);
    total += static_cast<double>(cross_entropy(model.forward(in, 1, r.seq), target).item());
  }
  return total / static_cast<double>(std::max<Index>(1, windows));
}

/// Records the fingerprint of the model folder's weights (as load_hf_model reads them) in its
/// pretraining.json, which bench::check_bundled_base compares before a run.
void seal(const std::string& dir) {
  auto info = nlohmann::ordered_json::parse(read_file(dir + "/pretraining.json"));
  info["fingerprint"] = model_fingerprint(*load_hf_model<float>(dir));
  write_file_atomically(dir + "/pretraining.json", info.dump(2) + "\n");
  std::vector<std::string> steps;  // and the loss curve as a plot beside it
  std::vector<double> train_loss, held_out;
  for (const auto& point : info.at("curve")) {
    steps.push_back(std::to_string(point.at("step").get<long long>()));
    train_loss.push_back(point.at("train_loss").get<double>());
    held_out.push_back(point.at("held_out_loss").get<double>());
  }
  const auto [low, high] = std::minmax_element(held_out.begin(), held_out.end());
  const ChartAxis axis{std::floor(std::min(*low, *std::min_element(train_loss.begin(), train_loss.end())) * 2) / 2,
                       std::ceil(std::max(*high, *std::max_element(train_loss.begin(), train_loss.end())) * 2) / 2, 0.5};
  write_file_atomically(dir + "/pretraining.svg", svg_line_chart(steps, {{"train (moving mean)", train_loss}, {"held out", held_out}},
                                                                 "Pretraining of the bundled base: next-token loss by step",
                                                                 "loss (nats per token)", axis));
}

/// What a model folder's pretraining was, for a run that goes on from it: the recipe, the
/// fingerprint of its weights and its loss curve (empty when it has no pretraining.json).
nlohmann::ordered_json earlier_pretraining(const std::string& dir, const DecoderLM<float>& model) {
  nlohmann::ordered_json history;
  history["from"] = dir;
  history["fingerprint"] = model_fingerprint(model);
  const std::string path = dir + "/pretraining.json";
  if (!fs::exists(path)) return history;
  const auto info = nlohmann::ordered_json::parse(read_file(path), nullptr, false);
  if (info.is_discarded() || !info.contains("curve") || !info["curve"].is_array())
    throw Error(ErrorKind::format, path + ": not a pretraining record (no \"curve\" array)");
  for (const char* key : {"recipe", "seconds", "curve"})
    if (info.contains(key)) history[key] = info[key];
  if (info.contains("init")) history["init"] = info["init"];  // and what it went on from
  return history;
}

void train(const std::string& corpus_dir, const std::string& tokenizer_dir, const std::string& out, const Recipe& r) {
  const auto start = std::chrono::steady_clock::now();
  const Tokenizer tokenizer = Tokenizer::from_folder(tokenizer_dir);
  const std::vector<std::int32_t> stream = token_stream(tokenizer, corpus_dir + "/" + r.train_file);
  const std::vector<std::int32_t> held_out = token_stream(tokenizer, corpus_dir + "/held_out.txt");
  const std::shared_ptr<DecoderLM<float>> loaded =
      r.init.empty() ? std::make_shared<DecoderLM<float>>(model_config(r, tokenizer.vocab_size())) : load_hf_model<float>(r.init);
  DecoderLM<float>& model = *loaded;
  const DecoderConfig& config = model.config();
  if (config.vocab_size != tokenizer.vocab_size())
    throw Error(ErrorKind::config, "--init " + r.init + ": its vocabulary has " + std::to_string(config.vocab_size) + " ids, the tokenizer " +
                                       tokenizer_dir + " " + std::to_string(tokenizer.vocab_size()));
  const nlohmann::ordered_json history = r.init.empty() ? nlohmann::ordered_json() : earlier_pretraining(r.init, model);
  // The curve goes on from the earlier one: its steps are counted from the last step before.
  nlohmann::ordered_json curve = history.contains("curve") ? history["curve"] : nlohmann::ordered_json::array();
  const long long first_step = curve.empty() ? 0 : curve.back().at("step").get<long long>();
  std::fprintf(stderr, "base_pretrain: %.2fM parameters, %zu training tokens, %zu held out; %lld steps of %lld x %lld tokens\n",
               static_cast<double>(model.num_parameters()) / 1e6, stream.size(), held_out.size(), static_cast<long long>(r.steps),
               static_cast<long long>(r.batch), static_cast<long long>(r.seq));

  AdamWOptions adam;
  adam.lr = r.lr, adam.beta2 = 0.95, adam.weight_decay = r.weight_decay;
  AdamW<float> optimizer(model.named_parameters(), adam);
  const WarmupCosine schedule{r.lr, std::max<long>(1, static_cast<long>(r.steps) / 25), static_cast<long>(r.steps), r.lr * r.min_lr_fraction};
  Rng rng(r.seed + 1);
  Progress bar(r.steps, "pretrain base");
  std::vector<std::int32_t> inputs, targets;
  double recent = 0;
  for (Index step = 0; step < r.steps; ++step) {
    draw_batch(stream, r.batch, r.seq, rng, inputs, targets);
    optimizer.set_lr(schedule(static_cast<long>(step)));
    Tensor<float> loss = cross_entropy(reshape(model.forward(inputs, r.batch, r.seq), {r.batch * r.seq, config.vocab_size}), targets);
    optimizer.zero_grad();
    loss.backward();
    clip_grad_norm(optimizer.parameters(), 1.0);
    optimizer.step();
    recent = step == 0 ? loss.item() : 0.98 * recent + 0.02 * loss.item();
    if ((step + 1) % r.eval_every == 0 || step + 1 == r.steps) {
      const double held = held_out_loss(model, held_out, r);
      const long long at = first_step + static_cast<long long>(step) + 1;
      curve.push_back({{"step", at}, {"train_loss", recent}, {"held_out_loss", held}, {"seconds", bench::seconds_since(start)}});
      std::fprintf(stderr, "\nbase_pretrain: step %lld, train loss %.3f, held-out loss %.3f\n", at, recent, held);
    }
    char status[48];
    std::snprintf(status, sizeof status, "loss %.3f", recent);
    bar.update(1, status);
  }
  bar.finish();

  fs::create_directories(out);
  save_hf_model(model, out);
  for (const char* file : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"})
    if (fs::exists(tokenizer_dir + "/" + file)) fs::copy_file(tokenizer_dir + "/" + file, out + "/" + file, fs::copy_options::overwrite_existing);
  nlohmann::ordered_json info;
  info["recipe"] = {{"steps", r.steps}, {"batch", r.batch}, {"seq", r.seq}, {"lr", r.lr}, {"min_lr_fraction", r.min_lr_fraction},
                    {"weight_decay", r.weight_decay}, {"adam_beta2", 0.95}, {"clip", 1.0}, {"seed", r.seed}};
  if (!history.is_null()) info["init"] = history;
  info["parameters"] = model.num_parameters();
  info["training_tokens_seen"] = r.steps * r.batch * r.seq;
  info["corpus_tokens"] = stream.size();
  info["held_out_tokens"] = held_out.size();
  info["threads"] = num_threads();
  info["seconds"] = bench::seconds_since(start);
  info["curve"] = curve;
  write_file_atomically(out + "/pretraining.json", info.dump(2) + "\n");
  seal(out);
  std::fprintf(stderr, "base_pretrain: wrote %s in %.0f s\n", out.c_str(), bench::seconds_since(start));
}

/// --quick's check of --init: two more steps from the model just written continue its curve and
/// record what they went on from.
void check_going_on(const std::string& corpus_dir, const std::string& tokenizer_dir, const std::string& first, Recipe r) {
  r.init = first;
  const std::string second = first + "_continued";
  train(corpus_dir, tokenizer_dir, second, r);
  const auto before = nlohmann::ordered_json::parse(read_file(first + "/pretraining.json"));
  const auto after = nlohmann::ordered_json::parse(read_file(second + "/pretraining.json"));
  const bool continued = after.at("curve").size() == 2 * before.at("curve").size() &&
                         after.at("curve").back().at("step").get<long long>() == 2 * r.steps &&
                         after.at("init").at("fingerprint") == before.at("fingerprint");
  if (!continued) throw Error(ErrorKind::value, second + "/pretraining.json does not go on from " + first);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Makes the bundled base model: its corpus, then its pretraining (see the file comment)."};
  std::string corpus_out;
  auto* corpus = app.add_subcommand("corpus", "write the pretraining corpus");
  corpus->add_option("--out", corpus_out, "output folder")->required();
  Recipe r;
  std::string corpus_dir, tokenizer_dir, model_out;
  int threads = 0;
  auto* pretrain = app.add_subcommand("train", "pretrain the base on a corpus folder");
  pretrain->add_option("--corpus", corpus_dir, "folder of corpus.txt and held_out.txt")->required();
  pretrain->add_option("--tokenizer", tokenizer_dir, "folder of tokenizer.json")->required();
  pretrain->add_option("--out", model_out, "model folder to write")->required();
  pretrain->add_option("--steps", r.steps, "optimizer steps")->capture_default_str();
  pretrain->add_option("--batch", r.batch, "windows per step")->capture_default_str();
  pretrain->add_option("--seq", r.seq, "tokens per window")->capture_default_str();
  pretrain->add_option("--lr", r.lr, "peak learning rate")->capture_default_str();
  pretrain->add_option("--hidden", r.hidden, "hidden size")->capture_default_str();
  pretrain->add_option("--layers", r.layers, "decoder layers")->capture_default_str();
  pretrain->add_option("--heads", r.heads, "attention heads")->capture_default_str();
  pretrain->add_option("--kv-heads", r.kv_heads, "key/value heads")->capture_default_str();
  pretrain->add_option("--ffn", r.ffn, "SwiGLU width")->capture_default_str();
  pretrain->add_option("--eval-every", r.eval_every, "steps between held-out evaluations")->capture_default_str();
  pretrain->add_option("--seed", r.seed, "initialisation and batch order")->capture_default_str();
  pretrain->add_option("--threads", threads, "threads (default: all cores)");
  pretrain->add_option("--init", r.init, "go on from this model folder's weights and architecture (the architecture options are then unused)");
  std::string seal_dir;
  auto* sealing = app.add_subcommand("seal", "record a model folder's fingerprint in its pretraining.json");
  sealing->add_option("--model", seal_dir, "model folder")->required();
  bool quick = false;
  app.add_flag("--quick", quick, "the smoke test (see the file comment)");
  app.require_subcommand(0, 1);
  CLI11_PARSE(app, argc, argv);
  if (!quick && !*corpus && !*pretrain && !*sealing) {
    std::fprintf(stderr, "base_pretrain: name a step, corpus, train or seal (or --quick); --help says more\n");
    return 1;
  }
  if (threads > 0) set_num_threads(threads);
  if (quick) {
    corpus_out = corpus_dir = "base_pretrain_quick/corpus", tokenizer_dir = std::string(EVERLORA_SOURCE_DIR) + "/models/everlora-base";
    model_out = "base_pretrain_quick/model";
    r.steps = 2, r.batch = 2, r.seq = 16, r.eval_every = 1, r.eval_windows = 2, r.train_file = "held_out.txt";
    r.hidden = 32, r.layers = 1, r.heads = 2, r.kv_heads = 1, r.ffn = 64;
  }
  try {
    if (quick || *corpus) write_corpus(corpus_out);
    if (quick || *pretrain) train(corpus_dir, tokenizer_dir, model_out, r);
    if (quick) check_going_on(corpus_dir, tokenizer_dir, model_out, r);
    if (*sealing) seal(seal_dir);
  } catch (const Error& e) {
    std::fprintf(stderr, "base_pretrain: %s\n", e.what());
    return 1;
  }
  return 0;
}
