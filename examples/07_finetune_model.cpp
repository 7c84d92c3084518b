// 07_finetune_model — your own training loop on a Hugging Face model folder (Llama, Qwen, Mistral,
// GPT-2): load the model and its tokenizer, put LoRA on every projection, train it on text with
// AdamW, generate before and after, then save the adapter PEFT's way and the merged model in the
// folder layout transformers loads.
//   build/examples/07_finetune_model --model SmolLM2-135M [--tokenizer DIR] [--text FILE]
//                                    [--steps N] [--out DIR] [--quick]
// Without --text it trains on Debian's fortunes (one quote per sequence). docs/models.md.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <everlora/everlora.hpp>
#include <fstream>
#include <sstream>

using namespace everlora;

namespace {

/// The texts to train on: the lines of `file`, or the fortunes.
std::vector<std::string> training_texts(const std::string& file) {
  std::vector<std::string> texts;
  if (file.empty()) {
    for (const Fortune& f : read_fortunes()) texts.push_back(f.text);
    return texts;
  }
  std::ifstream in(file);
  if (!in) throw Error(ErrorKind::io, "cannot read --text '" + file + "'");
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) texts.push_back(line);
  if (texts.empty()) throw Error(ErrorKind::value, "--text '" + file + "' has no non-empty line");
  return texts;
}

/// A batch of texts as [B, T] ids (BOS if the tokenizer adds one, the text, EOS; padded with EOS)
/// and next-token targets (kIgnoreIndex on padding).
struct Batch {
  std::vector<std::int32_t> ids, targets;
  Index batch = 0, length = 0;
};

Batch make_batch(const Tokenizer& tokenizer, const std::vector<std::string>& texts, Index max_len) {
  const std::int32_t eos = tokenizer.eos_id().value_or(0);
  std::vector<std::vector<std::int32_t>> rows;
  for (const auto& text : texts) {
    std::vector<std::int32_t> ids = tokenizer.encode(text);
    ids.push_back(eos);
    ids.resize(std::min<std::size_t>(ids.size(), static_cast<std::size_t>(max_len + 1)));
    rows.push_back(std::move(ids));
  }
  Batch b;
  b.batch = static_cast<Index>(rows.size());
  for (const auto& r : rows) b.length = std::max<Index>(b.length, static_cast<Index>(r.size()) - 1);
  b.ids.assign(static_cast<std::size_t>(b.batch * b.length), eos);
  b.targets.assign(b.ids.size(), kIgnoreIndex);
  for (Index i = 0; i < b.batch; ++i) {
    const auto& r = rows[static_cast<std::size_t>(i)];
    for (std::size_t t = 0; t + 1 < r.size(); ++t) {
      b.ids[static_cast<std::size_t>(i * b.length) + t] = r[t];
      b.targets[static_cast<std::size_t>(i * b.length) + t] = r[t + 1];
    }
  }
  return b;
}

std::string continue_text(DecoderLM<float>& model, const Tokenizer& tokenizer, const std::string& prompt, Index tokens) {
  GenerateOptions greedy;
  greedy.greedy = true;
  greedy.max_new_tokens = tokens;
  greedy.stop_id = tokenizer.eos_id().value_or(-1);
  Rng unused(0);
  return tokenizer.decode(generate(model, tokenizer.encode(prompt), greedy, unused), true);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"LoRA fine-tuning of a Hugging Face model folder in your own loop; saves a PEFT adapter and the merged model."};
  std::string model_dir, tokenizer_dir, text_file, out = "finetuned";
  Index steps = 100, batch_size = 4, max_len = 64;
  bool quick = false, bf16 = false;
  app.add_option("--model", model_dir, "model folder: config.json and model.safetensors (or shards)")->required();
  app.add_option("--tokenizer", tokenizer_dir, "folder of tokenizer.json (default: the model folder)");
  app.add_option("--text", text_file, "train on the lines of this file (default: Debian's fortunes)");
  app.add_option("--steps", steps, "training steps")->capture_default_str();
  app.add_option("--out", out, "output folder: <out>/adapter (PEFT) and <out>/merged (the model)")->capture_default_str();
  app.add_flag("--bf16", bf16, "hold the frozen base's matrices in bfloat16 (half the memory)");
  app.add_flag("--quick", quick, "5 steps of 2 short sequences (the test suite's run)");
  CLI11_PARSE(app, argc, argv);
  if (quick) steps = 5, batch_size = 2, max_len = 24;
  try {
    // ---- docs/models.md: fine-tune ----
    HfLoadOptions load;
    load.bf16_weights = bf16;  // --bf16: the frozen base's matrices in bfloat16, half the memory
    auto model = load_hf_model<float>(model_dir, load);
    const Tokenizer tokenizer = Tokenizer::from_folder(tokenizer_dir.empty() ? model_dir : tokenizer_dir);

    LoraConfig lora;
    lora.r = 8;
    lora.alpha = 16;
    lora.target_modules = model->config().projection_names();  // PEFT's "all-linear": q_proj … down_proj
    attach(*model, lora);  // freezes the base; only the LoRA experts train
    AdamWOptions adamw;
    adamw.lr = 1e-3;
    AdamW<float> optimizer(model->named_parameters(), adamw);
    // ----
    const std::vector<std::string> texts = training_texts(text_file);
    const std::string prompt = texts.front().substr(0, std::min<std::size_t>(texts.front().size(), 24));
    std::printf("model %s: %s, %.1fM parameters, %.2fM trainable\n", model_dir.c_str(), to_string(model->config().family),
                static_cast<double>(model->num_parameters()) / 1e6, static_cast<double>(model->num_parameters(true)) / 1e6);
    std::printf("before: %s|%s\n", prompt.c_str(), continue_text(*model, tokenizer, prompt, 16).c_str());

    Rng rng(1);
    Progress progress(steps, "fine-tune");
    for (Index step = 0; step < steps; ++step) {
      std::vector<std::string> picked;
      for (Index i = 0; i < batch_size; ++i) picked.push_back(texts[rng.below(texts.size())]);
      // ---- docs/models.md: step ----
      const Batch b = make_batch(tokenizer, picked, max_len);
      optimizer.zero_grad();
      Tensor<float> logits = model->forward(b.ids, b.batch, b.length);
      Tensor<float> loss = cross_entropy(reshape(logits, {b.batch * b.length, model->vocab_size()}), b.targets);
      loss.backward();
      optimizer.step();
      // ----
      progress.update(1, "loss " + std::to_string(loss[0]));
    }
    progress.finish();
    std::printf("after:  %s|%s\n", prompt.c_str(), continue_text(*model, tokenizer, prompt, 16).c_str());

    // ---- docs/models.md: save ----
    PeftSaveOptions peft;
    peft.base_model_name_or_path = model_dir;
    peft.task_type = "CAUSAL_LM";
    peft.config = lora;
    peft.fan_in_fan_out = model->config().gpt2();  // GPT-2's layers are Conv1D in transformers
    save_peft_adapter(*model, out + "/adapter", "default", {}, peft);  // PeftModel.from_pretrained loads it
    merge_and_unload(*model);
    save_hf_model(*model, out + "/merged");  // AutoModelForCausalLM.from_pretrained loads it
    // ----
    std::printf("wrote %s/adapter (PEFT) and %s/merged (config.json, model.safetensors)\n", out.c_str(), out.c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "07_finetune_model: %s\n", e.what());
    return 1;
  }
  return 0;
}
