// Hugging Face model folders: the tiny fixtures of each family (tools/make_decoder_fixtures.py,
// a reference that follows transformers' modeling code) load into DecoderLM and give the golden
// logits, the LoRA-adapted loss and the LoRA gradients, in float (1e-5) and double (1e-10).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "everlora/adapters.hpp"
#include "everlora/io.hpp"
#include "data/tokenizer_support.hpp"
#include "io_support.hpp"

using namespace everlora;
using everlora_test::require_error;
using everlora_test::TempDir;

namespace {

const std::vector<std::string> kFamilies = {"llama",       "qwen2",       "qwen3",         "mistral",
                                            "gpt2",        "llama-vocab", "qwen3-vocab",   "mistral-vocab",
                                            "gpt2-vocab"};

std::string model_dir(const std::string& family) { return std::string(EVERLORA_TEST_FIXTURES_DIR) + "/models/" + family; }

struct Golden {
  SafetensorsFile<double> file;
  std::vector<std::int32_t> ids;
  Index batch = 0, length = 0;
  const Tensor<double>& at(const std::string& name) const {
    const auto it = file.tensors.find(name);
    if (it == file.tensors.end()) FAIL("golden tensor " << name << " is missing");
    return it->second;
  }
};

Golden load_golden(const std::string& family) {
  Golden g{load_safetensors<double>(model_dir(family) + "/golden.safetensors"), {}, 0, 0};
  const Tensor<double>& ids = g.at("ids");
  g.batch = ids.dim(0);
  g.length = ids.dim(1);
  for (Index i = 0; i < ids.numel(); ++i) g.ids.push_back(static_cast<std::int32_t>(ids[i]));
  return g;
}

/// max |a − b| / max(1, |b|) over all elements.
template <class T>
double max_error(const Tensor<T>& got, const Tensor<double>& want) {
  REQUIRE(got.numel() == want.numel());
  double worst = 0;
  for (Index i = 0; i < got.numel(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]) / std::max(1.0, std::abs(want[i])));
  return worst;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t comma; (comma = s.find(',', start)) != std::string::npos; start = comma + 1) out.push_back(s.substr(start, comma - start));
  out.push_back(s.substr(start));
  return out;
}

/// The logits against the golden: all of them, or, for a fixture with a real vocabulary, each
/// position's log Σ exp and the logit of the next id (the first id at the last position).
template <class T>
void check_logits(const Tensor<T>& logits, const Golden& g, const std::string& key, const char* precision, double tolerance) {
  INFO(key);
  if (g.file.tensors.count(key + precision)) {
    CHECK(max_error(logits, g.at(key + precision)) < tolerance);
    return;
  }
  const Index vocab = logits.shape().last(), rows = g.batch * g.length;
  Tensor<T> logsumexp = Tensor<T>::empty({rows}), next = Tensor<T>::empty({rows});
  for (Index r = 0; r < rows; ++r) {
    const T* z = logits.data() + r * vocab;
    double top = *std::max_element(z, z + vocab), sum = 0;
    for (Index v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(z[v]) - top);
    logsumexp[r] = static_cast<T>(top + std::log(sum));
    const Index b = r / g.length, t = r % g.length;
    next[r] = z[g.ids[static_cast<std::size_t>(b * g.length + (t + 1) % g.length)]];
  }
  CHECK(max_error(logsumexp, g.at(key + "logsumexp." + precision)) < tolerance);
  CHECK(max_error(next, g.at(key + "next." + precision)) < tolerance);
}

template <class T>
void check_family(const std::string& family, double tolerance, const char* precision) {
  INFO(family << " in " << precision);
  const Golden g = load_golden(family);
  auto model = load_hf_model<T>(model_dir(family));
  {
    NoGrad no_graph;
    check_logits(model->forward(g.ids, g.batch, g.length), g, "logits.", precision, tolerance);
  }
  LoraConfig lora;
  lora.r = std::stoi(g.file.metadata.at("rank"));
  lora.alpha = std::stod(g.file.metadata.at("alpha"));
  lora.target_modules = split_commas(g.file.metadata.at("targets"));
  const std::vector<std::string> adapted = attach(*model, lora);
  std::vector<std::pair<std::string, Tensor<T>>> lora_params;
  for (auto& [name, p] : model->named_parameters()) {
    const auto expert = name.find(".experts.default.");
    if (expert == std::string::npos) continue;
    const std::string key = name.substr(0, expert) + "." + name.substr(expert + 17);  // <module>.lora_A
    const Tensor<double>& value = g.at("lora." + key);
    REQUIRE(value.shape() == p.shape());
    for (Index i = 0; i < p.numel(); ++i) p[i] = static_cast<T>(value[i]);
    lora_params.emplace_back(key, p);
  }
  CHECK(lora_params.size() == 2 * adapted.size());
  std::vector<std::int32_t> targets(g.ids.size(), kIgnoreIndex);  // next-token targets
  for (Index b = 0; b < g.batch; ++b)
    for (Index t = 0; t + 1 < g.length; ++t) targets[static_cast<std::size_t>(b * g.length + t)] = g.ids[static_cast<std::size_t>(b * g.length + t + 1)];
  const Tensor<T> logits = model->forward(g.ids, g.batch, g.length);
  check_logits(logits, g, "lora_logits.", precision, tolerance);
  Tensor<T> loss = cross_entropy(reshape(logits, {g.batch * g.length, model->vocab_size()}), targets);
  CHECK(max_error(loss, g.at(std::string("loss.") + precision)) < tolerance);
  loss.backward();
  for (auto& [key, p] : lora_params) {
    INFO("gradient of " << key);
    CHECK(max_error(p.grad(), g.at(std::string("grad.") + precision + "." + key)) < tolerance);
  }
}

/// A copy of fixture `family` in a scratch folder, to damage.
void copy_fixture(const std::string& family, const TempDir& dir) {
  for (const auto& e : std::filesystem::directory_iterator(model_dir(family)))
    std::filesystem::copy_file(e.path(), dir.file(e.path().filename().string()));
}

}  // namespace

TEST_CASE("decoder family: golden logits, LoRA loss and LoRA gradients in double", "[io][hf_model][golden]") {
  for (const auto& family : kFamilies) check_family<double>(family, 1e-10, "f64");
}

TEST_CASE("decoder family: golden logits, LoRA loss and LoRA gradients in float", "[io][hf_model][golden]") {
  for (const auto& family : kFamilies) check_family<float>(family, 1e-5, "f32");
}

TEST_CASE("decoder family: the real-vocabulary fixtures' ids are their real tokenizers' ids", "[io][hf_model][golden]") {
  for (const std::string family : {"llama-vocab", "qwen3-vocab", "mistral-vocab", "gpt2-vocab"}) {
    INFO(family);
    const Golden g = load_golden(family);
    const Tokenizer& tokenizer = everlora_test::shipped_tokenizer(g.file.metadata.at("tokenizer"));
    const auto texts = nlohmann::json::parse(g.file.metadata.at("texts"));
    REQUIRE(static_cast<Index>(texts.size()) == g.batch);
    auto model = load_hf_model<float>(model_dir(family));
    CHECK(tokenizer.vocab_size() <= model->vocab_size());
    for (Index b = 0; b < g.batch; ++b) {
      const std::vector<std::int32_t> ids = tokenizer.encode(texts[static_cast<std::size_t>(b)].get<std::string>());
      REQUIRE(static_cast<Index>(ids.size()) >= g.length);
      CHECK(std::vector<std::int32_t>(ids.begin(), ids.begin() + g.length) ==
            std::vector<std::int32_t>(g.ids.begin() + b * g.length, g.ids.begin() + (b + 1) * g.length));
    }
  }
}

TEST_CASE("decoder family: a KV-cache decode gives the full pass's logits", "[io][hf_model]") {
  for (const auto& family : kFamilies) {
    INFO(family);
    const Golden g = load_golden(family);
    auto model = load_hf_model<double>(model_dir(family));
    NoGrad no_graph;
    const std::vector<std::int32_t> row(g.ids.begin(), g.ids.begin() + g.length);
    const Tensor<double> full = model->forward(row, 1, g.length);
    KvCache<double> cache;
    model->forward({row.begin(), row.begin() + 4}, 1, 4, &cache);
    const Index vocab = model->vocab_size();
    for (Index t = 4; t < g.length; ++t) {
      const Tensor<double> step = model->forward({row[static_cast<std::size_t>(t)]}, 1, 1, &cache);
      for (Index v = 0; v < vocab; ++v) CHECK(step[v] == Approx(full[t * vocab + v]).margin(1e-12));
    }
  }
}

TEST_CASE("decoder family: save_hf_model writes a folder that loads to the same logits, in transformers' names", "[io][hf_model]") {
  for (const auto& family : kFamilies) {
    INFO(family);
    const Golden g = load_golden(family);
    auto model = load_hf_model<float>(model_dir(family));
    TempDir out;
    save_hf_model(*model, out.path());
    CHECK(out.entries() == std::set<std::string>{"config.json", "model.safetensors"});
    auto again = load_hf_model<float>(out.path());
    NoGrad no_graph;
    const Tensor<float> a = model->forward(g.ids, g.batch, g.length), b = again->forward(g.ids, g.batch, g.length);
    for (Index i = 0; i < a.numel(); ++i) REQUIRE(a[i] == b[i]);  // the stored dtype holds the values exactly
    const auto saved = load_safetensors<float>(out.file("model.safetensors"));
    CHECK(saved.dtypes.begin()->second == (family == "qwen2" ? "F16" : family == "qwen3" || family == "gpt2" ? "F32" : "BF16"));
    for (const auto& [name, t] : saved.tensors) {
      if (model->config().gpt2()) {
        CHECK(name.rfind("transformer.", 0) == 0);
      } else {
        CHECK((name.rfind("model.", 0) == 0 || name == "lm_head.weight"));
      }
    }
    const auto config = nlohmann::json::parse(read_file(out.file("config.json")));
    const auto original = nlohmann::json::parse(read_file(model_dir(family) + "/config.json"));
    CHECK(config == original);  // every key kept; torch_dtype unchanged
  }
}

TEST_CASE("decoder family: a large model is saved in shards with an index", "[io][hf_model]") {
  auto model = load_hf_model<float>(model_dir("qwen3"));
  TempDir out;
  HfSaveOptions options;
  options.max_shard_bytes = 20000;
  save_hf_model(*model, out.path(), options);
  const auto index = nlohmann::json::parse(read_file(out.file("model.safetensors.index.json")));
  CHECK(index.at("weight_map").size() == model->named_parameters().size());
  std::size_t shards = 0;
  for (const auto& name : out.entries()) shards += name.rfind("model-0000", 0) == 0 ? 1 : 0;
  CHECK(shards > 1);
  CHECK(out.entries().count("model-00001-of-0000" + std::to_string(shards) + ".safetensors") == 1);
  CHECK(out.entries().count("model.safetensors") == 0);
  auto again = load_hf_model<float>(out.path());
  const auto a = model->state_dict(), b = again->state_dict();
  for (const auto& [name, t] : a)
    for (Index i = 0; i < t.numel(); ++i) REQUIRE(t[i] == b.at(name)[i]);
}

TEST_CASE("decoder family: the loader names the file and tensor of every damaged checkpoint", "[io][hf_model][errors]") {
  const std::string first = "model.layers.0.self_attn.q_proj.weight";
  auto rewrite = [](const std::string& path, const std::function<void(StateDict<double>&)>& change) {
    auto file = load_safetensors<double>(path);
    change(file.tensors);
    save_safetensors(path, file.tensors, file.metadata, file.dtypes.begin()->second);
  };
  SECTION("a renamed tensor") {
    TempDir dir;
    copy_fixture("qwen3", dir);
    rewrite(dir.file("model.safetensors"), [&](StateDict<double>& t) {
      t.emplace("model.layers.0.self_attn.q_prj.weight", t.at(first));
      t.erase(first);
    });
    require_error([&] { load_hf_model<float>(dir.path()); }, ErrorKind::format,
                  {dir.file("model.safetensors"), "model.layers.0.self_attn.q_prj.weight", "not a parameter"});
  }
  SECTION("a missing tensor") {
    TempDir dir;
    copy_fixture("qwen3", dir);
    rewrite(dir.file("model.safetensors"), [&](StateDict<double>& t) { t.erase("model.norm.weight"); });
    require_error([&] { load_hf_model<float>(dir.path()); }, ErrorKind::format, {dir.path(), "model.norm.weight", "missing"});
  }
  SECTION("a tensor of another shape than config.json gives") {
    TempDir dir;
    copy_fixture("qwen3", dir);
    rewrite(dir.file("model.safetensors"), [&](StateDict<double>& t) { t.at(first) = Tensor<double>::zeros({32, 8}); });
    require_error([&] { load_hf_model<float>(dir.path()); }, ErrorKind::shape, {dir.file("model.safetensors"), first, "[32, 8]", "[32, 16]"});
  }
  SECTION("a tensor of an integer dtype") {
    TempDir dir;
    copy_fixture("qwen3", dir);
    std::string bytes = read_file(dir.file("model.safetensors"));
    const std::string entry = "\"" + first + "\":{\"dtype\":\"F32\"";
    const auto at = bytes.find(entry);
    REQUIRE(at != std::string::npos);
    bytes.replace(at + entry.size() - 4, 3, "I32");
    everlora_test::write_plain(dir.file("model.safetensors"), bytes);
    require_error([&] { load_hf_model<float>(dir.path()); }, ErrorKind::format, {dir.file("model.safetensors"), first, "I32"});
  }
  SECTION("a truncated shard") {
    TempDir dir;
    copy_fixture("llama", dir);
    const std::string shard = dir.file("model-00002-of-00002.safetensors");
    std::filesystem::resize_file(shard, std::filesystem::file_size(shard) - 100);
    require_error([&] { load_hf_model<float>(dir.path()); }, ErrorKind::format, {shard, "truncated"});
  }
  SECTION("an index naming a shard that is not there") {
    TempDir dir;
    copy_fixture("llama", dir);
    std::filesystem::remove(dir.file("model-00001-of-00002.safetensors"));
    require_error([&] { load_hf_model<float>(dir.path()); }, ErrorKind::io,
                  {dir.file("model.safetensors.index.json"), "model-00001-of-00002.safetensors"});
  }
  SECTION("a folder without weights") {
    TempDir dir;
    std::filesystem::copy_file(model_dir("gpt2") + "/config.json", dir.file("config.json"));
    require_error([&] { load_hf_model<float>(dir.path()); }, ErrorKind::io, {dir.path(), "model.safetensors"});
  }
  SECTION("a non-finite weight") {
    TempDir dir;
    copy_fixture("gpt2", dir);
    rewrite(dir.file("model.safetensors"), [&](StateDict<double>& t) { t.at("ln_f.bias")[3] = INFINITY; });
    require_error([&] { load_hf_model<float>(dir.path()); }, ErrorKind::value, {dir.file("model.safetensors"), "ln_f.bias", "index 3"});
  }
}

TEST_CASE("read_shard_index refuses a shard name holding a NUL byte", "[io][hf_model][errors]") {
  // Found by fuzz_shard_index: the system reads the path up to the NUL, so the index would name a
  // file that is not there while the real shard was opened.
  TempDir dir;
  copy_fixture("llama", dir);
  everlora_test::write_plain(dir.file("model.safetensors.index.json"),
                             R"({"weight_map": {"model.norm.weight": "model-00001-of-00002.safetensors\u0000x"}})");
  require_error([&] { detail::read_shard_index(dir.path()); }, ErrorKind::format, {"not a file beside the index"});
}

TEST_CASE("config.json: what DecoderLM does not implement is refused, naming the key and the value", "[io][hf_model][errors]") {
  auto config_with = [](const std::string& family, const nlohmann::json& patch) {
    auto j = nlohmann::json::parse(read_file(model_dir(family) + "/config.json"));
    j.merge_patch(patch);
    return j.dump();
  };
  auto refuse = [](const std::string& text, const std::vector<std::string>& fragments) {
    INFO(text);
    require_error([&] { decoder_config_from_json(text, "x/config.json"); }, ErrorKind::config, fragments);
  };
  refuse(config_with("llama", {{"model_type", "gemma"}}), {"x/config.json", "model_type", "gemma", "llama, mistral, qwen2, qwen3"});
  refuse(config_with("mistral", {{"sliding_window", 16}}), {"sliding_window", "16", "not supported"});
  refuse(R"({"model_type": "mistral", "vocab_size": 8, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1,
             "num_attention_heads": 2})",
         {"sliding_window", "absent", "4096"});
  refuse(config_with("qwen2", {{"use_sliding_window", true}}), {"use_sliding_window"});
  refuse(config_with("llama", {{"rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}}}), {"rope_scaling.rope_type", "yarn", "linear and llama3"});
  refuse(config_with("llama", {{"rope_scaling", {{"low_freq_factor", nullptr}}}}), {"rope_scaling.low_freq_factor", "missing"});
  refuse(config_with("qwen3", {{"num_experts", 8}}), {"num_experts", "mixture-of-experts"});
  refuse(config_with("llama", {{"hidden_act", "gelu"}}), {"hidden_act", "gelu", "silu"});
  refuse(config_with("gpt2", {{"activation_function", "relu"}}), {"activation_function", "relu"});
  refuse(config_with("llama", {{"num_key_value_heads", 3}}), {"num_key_value_heads = 3", "num_attention_heads = 4"});
  refuse(config_with("llama", {{"hidden_size", "32"}}), {"hidden_size", "whole number"});
  refuse(config_with("qwen2", {{"vocab_size", nullptr}}), {"vocab_size", "missing"});
  refuse(config_with("llama", {{"num_hidden_layers", 4294967297}}), {"num_hidden_layers", "4294967297", "65536"});
  // Found by fuzz_hf_config: an epsilon that float rounds to 0 (or to infinity).
  refuse(config_with("llama", {{"rms_norm_eps", 1e-50}}), {"'rms_norm_eps'"});
  refuse(config_with("gpt2", {{"layer_norm_epsilon", 1e300}}), {"'layer_norm_epsilon'"});
  require_error([] { decoder_config_from_json("{\"model_type\": ", "y/config.json"); }, ErrorKind::format, {"y/config.json", "JSON"});
}
