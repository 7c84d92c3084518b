// PEFT adapters on the decoder family: save_peft_adapter writes the keys, shapes and config that
// PEFT's save_pretrained writes for LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM,
// MistralForCausalLM and GPT2LMHeadModel (the names below are spelled out from transformers' module
// tree, not derived from everlora's), and load_peft_adapter reads such a folder back.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "everlora/adapters.hpp"
#include "everlora/io.hpp"
#include "io_support.hpp"

using namespace everlora;
using everlora_test::TempDir;

namespace {

std::string fixture(const std::string& family) { return std::string(EVERLORA_TEST_FIXTURES_DIR) + "/models/" + family; }

/// module path → (in, out) of every projection PEFT's "all-linear" adapts, as transformers names
/// them: model.layers.<i>.self_attn.q_proj … (Llama family), transformer.h.<i>.attn.c_attn … (GPT-2).
std::map<std::string, std::pair<Index, Index>> hf_projections(const DecoderConfig& c) {
  std::map<std::string, std::pair<Index, Index>> out;
  const Index C = c.hidden_size, F = c.intermediate_size, q = c.num_attention_heads * c.head_dim,
              kv = c.num_key_value_heads * c.head_dim;
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    if (c.gpt2()) {
      const std::string h = "transformer.h." + std::to_string(i) + ".";
      out[h + "attn.c_attn"] = {C, 3 * C};
      out[h + "attn.c_proj"] = {C, C};
      out[h + "mlp.c_fc"] = {C, F};
      out[h + "mlp.c_proj"] = {F, C};
    } else {
      const std::string l = "model.layers." + std::to_string(i) + ".";
      out[l + "self_attn.q_proj"] = {C, q};
      out[l + "self_attn.k_proj"] = {C, kv};
      out[l + "self_attn.v_proj"] = {C, kv};
      out[l + "self_attn.o_proj"] = {q, C};
      out[l + "mlp.gate_proj"] = {C, F};
      out[l + "mlp.up_proj"] = {C, F};
      out[l + "mlp.down_proj"] = {F, C};
    }
  }
  return out;
}

std::vector<std::string> all_linear(const DecoderConfig& c) {
  if (c.gpt2()) return {"c_attn", "c_proj", "c_fc"};
  return {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
}

}  // namespace

TEST_CASE("PEFT adapters of the decoder family have PEFT's keys, shapes and config, and load back", "[io][peft][hf_model]") {
  for (const std::string family : {"llama", "qwen2", "qwen3", "mistral", "gpt2"}) {
    INFO(family);
    auto model = load_hf_model<float>(fixture(family));
    const DecoderConfig& c = model->config();
    LoraConfig lora;
    lora.r = 2;
    lora.alpha = 6;
    lora.target_modules = all_linear(c);
    attach(*model, lora);
    Rng rng(3);
    for (auto& [name, p] : model->named_parameters())  // B = 0 after attach: make the update visible
      if (name.find("lora_B") != std::string::npos)
        for (Index i = 0; i < p.numel(); ++i) p[i] = static_cast<float>(rng.normal(0.0, 0.1));
    TempDir dir;
    PeftSaveOptions options;
    options.task_type = "CAUSAL_LM";
    options.base_model_name_or_path = fixture(family);
    options.config = lora;
    options.fan_in_fan_out = c.gpt2();
    save_peft_adapter(*model, dir.path(), "default", {}, options);

    const auto weights = load_safetensors<float>(dir.file(kPeftWeightsFile));
    std::set<std::string> want, got;
    for (const auto& [module, io] : hf_projections(c)) {
      const std::string a = "base_model.model." + module + ".lora_A.weight", b = "base_model.model." + module + ".lora_B.weight";
      want.insert(a);
      want.insert(b);
      if (weights.tensors.count(a) && weights.tensors.count(b)) {
        CHECK(weights.tensors.at(a).shape() == Shape{2, io.first});
        CHECK(weights.tensors.at(b).shape() == Shape{io.second, 2});
      }
    }
    for (const auto& [key, t] : weights.tensors) got.insert(key);
    CHECK(got == want);
    for (const auto& [key, dtype] : weights.dtypes) CHECK(dtype == "F32");

    const auto config = nlohmann::json::parse(read_file(dir.file(kPeftConfigFile)));
    std::vector<std::string> targets = all_linear(c);
    std::sort(targets.begin(), targets.end());
    CHECK(config.at("target_modules") == targets);
    CHECK(config.at("peft_type") == "LORA");
    CHECK(config.at("task_type") == "CAUSAL_LM");
    CHECK(config.at("r") == 2);
    CHECK(config.at("lora_alpha") == 6);
    CHECK(config.at("fan_in_fan_out") == c.gpt2());  // PEFT sets it for GPT-2's Conv1D layers

    auto fresh = load_hf_model<float>(fixture(family));
    load_peft_adapter(*fresh, dir.path());
    const std::vector<std::int32_t> ids = {1, 5, 2, 7, 3, 0};
    NoGrad no_graph;
    const Tensor<float> want_logits = model->forward(ids, 1, 6), got_logits = fresh->forward(ids, 1, 6);
    for (Index i = 0; i < want_logits.numel(); ++i) REQUIRE(got_logits[i] == want_logits[i]);
  }
}

// Run by ctest after bench_smoke.cl_run_hf_base (io.cl_run_peft_folders): every adapter folder
// cl_run wrote for the Qwen3 fixture has PEFT's keys and config and loads into the base.
TEST_CASE("cl_run's PEFT folders on a model folder have PEFT's keys and load back", "[.cl_run_peft]") {
  const char* out = std::getenv("EVERLORA_CL_RUN_OUT");
  REQUIRE(out != nullptr);
  const std::string base = fixture("qwen3-vocab");
  const auto projections = hf_projections(load_hf_model<float>(base)->config());
  std::size_t folders = 0;
  std::set<std::string> methods;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(out)) {
    if (entry.path().filename() != kPeftConfigFile) continue;
    const std::string dir = entry.path().parent_path().string();
    INFO(dir);
    ++folders;
    for (auto p = entry.path().parent_path(); p.has_parent_path() && p != p.parent_path(); p = p.parent_path())
      if (p.filename().string().size() > 5 && p.filename().string().rfind("_peft") == p.filename().string().size() - 5)
        methods.insert(p.filename().string());
    const auto config = nlohmann::json::parse(read_file(dir + "/" + kPeftConfigFile));
    CHECK(config.at("task_type") == "CAUSAL_LM");
    CHECK(config.at("base_model_name_or_path") == base);
    CHECK(config.at("target_modules") == std::vector<std::string>{"down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"});
    std::set<std::string> got, want;
    for (const auto& [key, t] : load_safetensors<float>(dir + "/" + kPeftWeightsFile).tensors) got.insert(key);
    for (const auto& [module, io] : projections) {
      want.insert("base_model.model." + module + ".lora_A.weight");
      want.insert("base_model.model." + module + ".lora_B.weight");
    }
    CHECK(got == want);
    auto fresh = load_hf_model<float>(base);
    CHECK(load_peft_adapter(*fresh, dir).size() == projections.size());
  }
  CHECK(folders >= 5);
  CHECK(methods.size() >= 5);  // several methods wrote theirs (JumpLoRA's gates and merged experts cannot be PEFT's)
}
