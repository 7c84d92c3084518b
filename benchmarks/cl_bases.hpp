// everlora benchmarks — the pretrained bases of the continual benchmarks, built on first use and
// cached (BENCHMARKS.md: "a byte-level GPT base pretrained on text from Debian's corpora";
// "a small backbone pretrained on upright images"). Cache folder: $EVERLORA_CACHE, else
// $XDG_CACHE_HOME/everlora, else ~/.cache/everlora.
#ifndef EVERLORA_BENCHMARKS_CL_BASES_HPP
#define EVERLORA_BENCHMARKS_CL_BASES_HPP

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "everlora/everlora.hpp"

namespace bench {

using namespace everlora;

inline std::string default_cache_dir() {
  if (const char* dir = std::getenv("EVERLORA_CACHE"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/everlora";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/everlora";
  return ".everlora_cache";
}

/// Shape and budget of a pretrained base.
struct BaseRecipe {
  GPTConfig gpt;
  Index steps = 1200, batch = 12;  // about 110 s on 2 cores: enough for the base to spell and copy
  double lr = 3e-3;
  std::vector<Index> mlp_sizes{784, 256, 256, 10};
  Index mlp_epochs = 2, mlp_images = 30000;
};

inline BaseRecipe base_recipe(bool quick) {
  BaseRecipe r;
  r.gpt.context = 192;
  r.gpt.d_model = 128;
  r.gpt.n_layers = 3;
  r.gpt.n_heads = 4;
  r.gpt.seed = 7;
  if (quick) {
    r.gpt.context = 96, r.gpt.d_model = 32, r.gpt.n_layers = 1, r.gpt.n_heads = 2;
    r.steps = 6, r.batch = 2;
    r.mlp_sizes = {784, 32, 10}, r.mlp_epochs = 1, r.mlp_images = 512;
  }
  return r;
}

/// The corpus as one id stream, each line (one document) wrapped as [BOS] bytes [EOS]: the base
/// must know the ids that frame every task example, or a frozen head can hardly learn to stop.
inline std::vector<std::int32_t> document_stream(const std::string& text) {
  std::vector<std::int32_t> stream;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const std::size_t end = std::min(text.find('\n', begin), text.size());
    if (end > begin) {
      stream.push_back(ByteVocab::kBos);
      for (std::int32_t id : encode_bytes(std::string_view(text).substr(begin, end - begin))) stream.push_back(id);
      stream.push_back(ByteVocab::kEos);
    }
    begin = end + 1;
  }
  return stream;
}

/// Next-byte pretraining of `model` on random windows of `text` (AdamW, warm-up + cosine, clip 1).
inline void pretrain_gpt(GPT<float>& model, const std::string& text, const BaseRecipe& recipe) {
  const std::vector<std::int32_t> stream = document_stream(text);
  const Index length = recipe.gpt.context;
  if (static_cast<Index>(stream.size()) <= length + 1)
    throw Error(ErrorKind::value, "pretrain_gpt: a corpus of " + std::to_string(stream.size()) + " bytes is shorter than one window");
  AdamWOptions adam;
  adam.lr = recipe.lr;
  adam.weight_decay = 0.1;
  AdamW<float> optimizer(model.named_parameters(), adam);
  const WarmupCosine schedule{recipe.lr, std::max<long>(1, recipe.steps / 20), recipe.steps, recipe.lr / 10};
  Rng rng(recipe.gpt.seed + 1);
  Progress bar(recipe.steps, "pretrain base GPT");
  std::vector<std::int32_t> inputs, targets;
  for (Index step = 0; step < recipe.steps; ++step) {
    inputs.clear(), targets.clear();
    for (Index b = 0; b < recipe.batch; ++b) {
      const auto start = static_cast<std::size_t>(rng.below(stream.size() - static_cast<std::size_t>(length) - 1));
      inputs.insert(inputs.end(), stream.begin() + static_cast<std::ptrdiff_t>(start), stream.begin() + static_cast<std::ptrdiff_t>(start + static_cast<std::size_t>(length)));
      targets.insert(targets.end(), stream.begin() + static_cast<std::ptrdiff_t>(start + 1), stream.begin() + static_cast<std::ptrdiff_t>(start + 1 + static_cast<std::size_t>(length)));
    }
    optimizer.set_lr(schedule(static_cast<long>(step)));
    Tensor<float> loss = cross_entropy(model.forward(inputs, recipe.batch, length), targets);
    optimizer.zero_grad();
    loss.backward();
    clip_grad_norm(optimizer.parameters(), 1.0);
    optimizer.step();
    char status[32];
    std::snprintf(status, sizeof status, "loss %.3f", loss.item());
    bar.update(1, status);
  }
}

/// The cached text base at `path`, pretrained on `corpus` (a text file) when missing.
inline std::shared_ptr<GPT<float>> text_base(const std::string& path, const std::string& corpus, const BaseRecipe& recipe) {
  if (!std::filesystem::exists(path)) {
    std::fprintf(stderr, "cl_run: no base at %s: pretraining one on %s\n", path.c_str(), corpus.c_str());
    GPT<float> model(recipe.gpt);
    pretrain_gpt(model, read_file(corpus), recipe);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    save_gpt(model, path, {{"corpus", corpus}});
  }
  return std::shared_ptr<GPT<float>>(load_gpt<float>(path));
}

/// The cached Fashion-MNIST backbone at `path`, trained on upright images when missing.
inline std::shared_ptr<MLPClassifier<float>> image_base(const std::string& path, const BaseRecipe& recipe) {
  Rng rng(recipe.gpt.seed);
  auto model = std::make_shared<MLPClassifier<float>>(recipe.mlp_sizes, rng);
  if (std::filesystem::exists(path)) {
    load_module(*model, path);
    return model;
  }
  std::fprintf(stderr, "cl_run: no backbone at %s: training one on upright Fashion-MNIST\n", path.c_str());
  const ImageSet upright = subset(load_fashion_mnist(true), 0, recipe.mlp_images);
  AdamWOptions adam;
  adam.lr = 1e-3;
  AdamW<float> optimizer(model->named_parameters(), adam);
  const Index batch = 128, steps = recipe.mlp_epochs * ((upright.count + batch - 1) / batch);
  Progress bar(steps, "pretrain backbone");
  std::vector<std::int32_t> labels;
  for (Index step = 0; step < steps; ++step) {
    std::vector<std::pair<const ImageSet*, Index>> images;
    for (Index i = 0; i < batch; ++i) images.emplace_back(&upright, (step * batch + i) % upright.count);
    Tensor<float> loss = cross_entropy(model->forward(gather_images<float>(images, labels)), labels);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    bar.update(1);
  }
  bar.finish();
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  save_module(*model, path);
  return model;
}

}  // namespace bench

#endif  // EVERLORA_BENCHMARKS_CL_BASES_HPP
