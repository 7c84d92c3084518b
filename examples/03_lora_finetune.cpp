// 03_lora_finetune — LoRA fine-tuning of a pretrained GPT, saved and reloaded in PEFT's layout.
//
// A base GPT (the checkpoint of 02_pretrain_gpt, or a fresh one when there is none) learns one
// task: the style of one category of Debian's fortunes. attach() puts rank-8 LoRA on q, k, v, o,
// fc1 and fc2 and freezes the base; AdamW trains the experts only. The adapter is saved as a PEFT
// directory (adapter_config.json + adapter_model.safetensors), loaded into a fresh copy of the base,
// and the two models' logits are compared.
//   build/examples/03_lora_finetune [--base FILE] [--category NAME] [--steps N] [--out DIR] [--quick]
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <everlora/adapters.hpp>
#include <everlora/data.hpp>
#include <everlora/io.hpp>
#include <everlora/io/peft_adapter.hpp>
#include <everlora/optim.hpp>
#include <everlora/util/progress.hpp>
#include <filesystem>

using namespace everlora;

/// The category's quotes as one byte stream, each followed by the end-of-text id.
std::vector<std::int32_t> category_stream(const std::string& dir, const std::string& category) {
  std::vector<std::int32_t> stream;
  for (const Fortune& f : read_fortunes(dir))
    if (f.category == category) {
      for (std::int32_t id : encode_bytes(f.text)) stream.push_back(id);
      stream.push_back(ByteVocab::kEos);
    }
  if (stream.empty()) throw Error(ErrorKind::config, "no fortunes in category '" + category + "'");
  return stream;
}

/// Mean next-byte cross-entropy in bits on `windows` evenly spaced windows of `length`.
double bits_per_byte(GPT<float>& model, const std::vector<std::int32_t>& stream, Index length, int windows) {
  NoGrad no_graph;
  std::vector<std::int32_t> inputs, targets;
  const std::size_t span = stream.size() - static_cast<std::size_t>(length) - 1;
  for (int w = 0; w < windows; ++w)
    for (Index t = 0; t < length; ++t) {
      const std::size_t at = span * static_cast<std::size_t>(w) / static_cast<std::size_t>(windows) + static_cast<std::size_t>(t);
      inputs.push_back(stream[at]);
      targets.push_back(stream[at + 1]);
    }
  return cross_entropy(model.forward(inputs, windows, length), targets).item() / std::log(2.0);
}

std::unique_ptr<GPT<float>> load_base(const std::string& path, bool quick) {
  if (!path.empty() && std::filesystem::exists(path)) return load_gpt<float>(path);
  std::printf("no base checkpoint at '%s' (run 02_pretrain_gpt for one): starting from a fresh GPT\n", path.c_str());
  GPTConfig config;
  config.context = 128;
  config.d_model = quick ? 32 : 192;
  config.n_layers = quick ? 1 : 4;
  config.n_heads = quick ? 2 : 6;
  return std::make_unique<GPT<float>>(config);
}

int main(int argc, char** argv) {
  CLI::App app{"Fine-tune a GPT with LoRA on one fortunes category; save and reload it as a PEFT adapter."};
  std::string base_path = "pretrain_gpt/gpt.safetensors", category = "computers", out_dir = "lora_finetune";
  int steps = 200, batch = 8;
  Index length = 64;
  bool quick = false;
  app.add_option("--base", base_path, "base checkpoint written by 02_pretrain_gpt")->capture_default_str();
  app.add_option("--category", category, "fortunes category that is the task")->capture_default_str();
  app.add_option("--steps", steps, "training steps")->capture_default_str();
  app.add_option("--batch", batch, "sequences per step")->capture_default_str();
  app.add_option("--out", out_dir, "folder for the PEFT adapter")->capture_default_str();
  app.add_flag("--quick", quick, "a few steps on a tiny model (used by the test suite)");
  CLI11_PARSE(app, argc, argv);
  if (quick) steps = 6, batch = 2, length = 16;

  try {
    const std::vector<std::int32_t> task = category_stream(kFortunesDir, category);
    std::unique_ptr<GPT<float>> model = load_base(base_path, quick);
    StateDict<float> base_state;  // the base as it was, to rebuild it for the reload below
    for (const auto& [name, t] : model->state_dict()) base_state.emplace(name, t.clone());
    length = std::min(length, model->config().context);
    const double before = bits_per_byte(*model, task, length, 8);

    LoraConfig lora;
    lora.r = 8;
    lora.alpha = 16;
    lora.target_modules = {"q", "k", "v", "o", "fc1", "fc2"};
    const auto adapted = attach(*model, lora);
    std::printf("task: fortunes/%s (%zu bytes) | LoRA r=%td alpha=%.0f on %zu layers: %td trainable of %td parameters\n",
                category.c_str(), task.size(), lora.r, lora.alpha, adapted.size(),
                model->num_parameters(true), model->num_parameters());
    AdamWOptions adam;
    adam.lr = 2e-3;
    adam.weight_decay = 0.0;
    AdamW<float> optimizer(model->named_parameters(), adam);
    Rng rng(5);
    Progress bar(steps, "finetune");
    std::vector<std::int32_t> inputs, targets;
    for (int step = 1; step <= steps; ++step) {
      inputs.clear();
      targets.clear();
      for (int b = 0; b < batch; ++b) {
        const std::size_t at = rng.below(task.size() - static_cast<std::size_t>(length) - 1);
        inputs.insert(inputs.end(), task.begin() + static_cast<std::ptrdiff_t>(at), task.begin() + static_cast<std::ptrdiff_t>(at) + length);
        targets.insert(targets.end(), task.begin() + static_cast<std::ptrdiff_t>(at) + 1, task.begin() + static_cast<std::ptrdiff_t>(at) + 1 + length);
      }
      Tensor<float> loss = cross_entropy(model->forward(inputs, batch, length), targets);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      char status[32];
      std::snprintf(status, sizeof status, "loss %.3f", loss.item());
      bar.update(1, status);
    }
    bar.finish();
    std::printf("bits per byte on the task: %.3f before, %.3f after fine-tuning\n", before,
                bits_per_byte(*model, task, length, 8));

    PeftSaveOptions options;
    options.config = lora;
    options.task_type = "CAUSAL_LM";
    options.base_model_name_or_path = base_path;
    save_peft_adapter(*model, out_dir, "default", {}, options);
    auto reloaded = std::make_unique<GPT<float>>(model->config());
    reloaded->load_state_dict(base_state);
    load_peft_adapter(*reloaded, out_dir);
    NoGrad no_graph;
    model->eval();
    reloaded->eval();
    const auto a = model->forward(inputs, batch, length), b = reloaded->forward(inputs, batch, length);
    const double max_diff = (a.vec() - b.vec()).cwiseAbs().maxCoeff();
    std::printf("saved the adapter to %s/ (PEFT layout); reloaded into a fresh base: max |logit difference| = %g\n",
                out_dir.c_str(), max_diff);
    return max_diff == 0.0 ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
