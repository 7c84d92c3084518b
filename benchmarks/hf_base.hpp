// cl_run's Hugging Face bases: `--base DIR` naming a model folder (config.json, safetensors, and
// the model's tokenizer.json) runs a text benchmark on that model with its own tokenizer. Before
// the run, what it will take is said: the model's size and weight memory, and one measured
// training step times the run's steps.
#ifndef EVERLORA_BENCHMARKS_HF_BASE_HPP
#define EVERLORA_BENCHMARKS_HF_BASE_HPP

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "everlora/everlora.hpp"

namespace bench {

/// Whether `path` is a model folder (it holds config.json) rather than a GPT checkpoint file.
inline bool is_model_folder(const std::string& path) {
  return !path.empty() && std::filesystem::is_regular_file(std::filesystem::path(path) / "config.json");
}

/// Checks that the model folder `dir` holds the weights its pretraining wrote: their fingerprint
/// must be the one its pretraining.json records (base_pretrain seal). Error(format) naming the folder
/// otherwise (a damaged or half-replaced bundled base).
inline void check_bundled_base(const std::string& dir) {
  using namespace everlora;
  const std::string record = dir + "/pretraining.json";
  const auto info = nlohmann::json::parse(read_file(record), nullptr, false);
  if (info.is_discarded() || !info.contains("fingerprint") || !info.at("fingerprint").is_string())
    throw Error(ErrorKind::format, record + ": no \"fingerprint\" of the bundled base's weights (base_pretrain seal writes it)");
  const std::string want = info.at("fingerprint").get<std::string>();
  const std::string got = model_fingerprint(*load_hf_model<float>(dir));
  if (got != want)
    throw Error(ErrorKind::format, dir + ": the weights' fingerprint " + got + " is not the " + want + " that " + record +
                                       " records: the bundled base is damaged or was replaced in part");
}

/// Prints the model's size and weight memory, then times one training step of `workload` (on a
/// LoRA of `lora` attached to a throwaway copy) and multiplies it out to the whole run.
inline void print_run_estimate(const std::string& dir, everlora::TextWorkload<float>& workload, const everlora::LoraConfig& lora,
                               everlora::Index batch, everlora::Index steps_per_task, std::size_t methods) {
  using namespace everlora;
  auto& model = dynamic_cast<DecoderLM<float>&>(workload.lm());
  const double params = static_cast<double>(model.num_parameters());
  std::fprintf(stderr, "cl_run: base %s: %s, %.1fM parameters, %.0f MB of float weights\n", dir.c_str(),
               to_string(model.config().family), params / 1e6, params * 4 / 1e6);
  attach(model, lora);
  std::vector<ExampleRef> refs;
  for (Index i = 0; i < std::min<Index>(batch, workload.train_size(0)); ++i) refs.push_back({0, i});
  const auto start = std::chrono::steady_clock::now();
  Tensor<float> loss = workload.loss(refs);
  loss.backward();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double run = seconds * static_cast<double>(steps_per_task * workload.num_tasks()) * static_cast<double>(methods);
  std::fprintf(stderr, "cl_run: one training step of %td examples took %.2f s (peak memory %.0f MB so far): about %.0f min of "
                       "training for %zu method%s, plus scoring\n",
               refs.size(), seconds, peak_rss_mb(), run / 60, methods, methods == 1 ? "" : "s");
}

/// Writes every expert of `model` as a PEFT LoRA adapter under `dir` (PEFT's layout for several
/// adapters: "default" in `dir`, each other one in dir/<name>/), for the model folder `base`; when
/// the method's adapters are not plain LoRA (JumpLoRA's gates, merged experts) it says so instead.
inline void save_method_adapters(everlora::Module<float>& model, const std::string& dir, const std::string& base,
                                 const everlora::LoraConfig& lora) {
  using namespace everlora;
  PeftSaveOptions options;
  options.base_model_name_or_path = base;
  options.task_type = "CAUSAL_LM";
  options.config = lora;
  if (auto* lm = dynamic_cast<DecoderLM<float>*>(&model)) options.fan_in_fan_out = lm->config().gpt2();
  try {
    const std::vector<std::string> saved = save_peft_adapters(model, dir, {}, options);
    std::fprintf(stderr, "cl_run: wrote %zu PEFT adapter%s to %s\n", saved.size(), saved.size() == 1 ? "" : "s", dir.c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "cl_run: no PEFT adapter written to %s: %s\n", dir.c_str(), e.message().c_str());
  }
}

}  // namespace bench

#endif  // EVERLORA_BENCHMARKS_HF_BASE_HPP
