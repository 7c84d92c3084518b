// PEFT adapter directories: save/load round trips, the PyTorch-made fixture
// (tools/make_peft_fixture.py), every refusal of a malformed directory, several adapters in
// sub-folders, the name map, and the everlora sidecar.
#include <catch2/catch.hpp>
#include <limits>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "everlora/io/gpt_checkpoint.hpp"
#include "everlora/io/peft_adapter.hpp"
#include "io_support.hpp"
#include "support/fixtures.hpp"

using namespace everlora;
using everlora_test::require_error;
using everlora_test::TempDir;

namespace {

const std::string kFixture = std::string(EVERLORA_TEST_FIXTURES_DIR) + "/peft_fixture";
const std::vector<std::int32_t> kIds = {1, 5, 9, 3, 14, 0, 7, 2, 2, 11, 4, 15};

GPTConfig tiny_config() { return everlora_test::tiny_gpt_config(16, 8, 8, 2, 2, /*seed=*/3); }

LoraConfig lora(std::vector<std::string> targets, Index r = 2, double alpha = 4) {
  LoraConfig c;
  c.r = r;
  c.alpha = alpha;
  c.target_modules = std::move(targets);
  return c;
}

/// Gives every B of expert `name` random values (attach leaves B = 0, which would hide errors).
void randomize_b(GPT<float>& model, const std::string& name, std::uint64_t seed) {
  Rng rng(seed);
  for (auto& [path, layer] : adapted_layers<float>(model))
    if (layer->experts().has(name))
      for (Index i = 0; i < layer->experts().get(name).b().numel(); ++i)
        layer->experts().get(name).b()[i] = static_cast<float>(rng.normal(0.0, 0.5));
}

std::vector<float> logits(GPT<float>& model) {
  NoGrad no_graph;
  model.eval();
  return model.forward(kIds, 2, 6).to_vector();
}

/// The values of record `tag` of the fixture's expected.txt (after its rank and dims).
std::vector<double> expected(const std::string& tag) {
  std::ifstream in(kFixture + "/expected.txt");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string first;
    int rank = 0;
    fields >> first;
    if (first != tag) continue;
    fields >> rank;
    for (int i = 0; i < rank; ++i) fields >> first;
    std::vector<double> out;
    double v;
    while (fields >> v) out.push_back(v);
    return out;
  }
  FAIL("no record '" << tag << "' in expected.txt");
  return {};
}

void check_close(const std::vector<float>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  double maxdiff = 0;
  for (std::size_t i = 0; i < got.size(); ++i) maxdiff = std::max(maxdiff, std::fabs(got[i] - want[i]));
  INFO("first values " << got[0] << " " << want[0] << ", maxdiff " << maxdiff);
  CHECK(maxdiff <= tol);
}

/// A copy of the fixture's adapter (config and tensors) in `dir`, for the malformed cases.
void copy_fixture_adapter(const std::string& dir) {
  for (const char* f : {kPeftConfigFile, kPeftWeightsFile})
    std::filesystem::copy_file(kFixture + "/" + f, dir + "/" + f);
}
nlohmann::json fixture_config() {
  return nlohmann::json::parse(read_file(kFixture + "/" + kPeftConfigFile));
}
void write_config(const std::string& dir, const nlohmann::json& j) {
  everlora_test::write_plain(dir + "/" + kPeftConfigFile, j.dump(2));
}

std::unique_ptr<GPT<float>> fixture_base() { return load_gpt<float>(kFixture + "/base_model.safetensors"); }

}  // namespace

TEST_CASE("save_peft_adapter then load_peft_adapter gives identical outputs", "[io][peft]") {
  TempDir dir;
  GPT<float> model(tiny_config());
  attach(model, lora({"q", "v", "fc1"}), "default");
  randomize_b(model, "default", 11);
  save_peft_adapter(model, dir.path());
  CHECK(dir.entries() == std::set<std::string>{kPeftConfigFile, kPeftWeightsFile});

  const auto config = nlohmann::json::parse(read_file(dir.file(kPeftConfigFile)));
  CHECK(config.at("peft_type") == "LORA");
  CHECK(config.at("r") == 2);
  CHECK(config.at("lora_alpha") == 4);
  CHECK(config.at("lora_alpha").is_number_integer());
  CHECK(config.at("target_modules") == nlohmann::json({"fc1", "q", "v"}));
  CHECK(config.at("bias") == "none");
  CHECK(config.at("fan_in_fan_out") == false);
  CHECK(config.at("use_rslora") == false);
  CHECK(config.at("use_dora") == false);
  CHECK(config.at("inference_mode") == true);
  CHECK(config.at("init_lora_weights") == true);
  CHECK(config.at("task_type").is_null());
  CHECK(config.at("base_model_name_or_path").is_null());

  const auto file = load_safetensors<float>(dir.file(kPeftWeightsFile));
  CHECK(file.tensors.size() == 12);
  CHECK(file.metadata.at("format") == "pt");
  CHECK(file.dtypes.at("base_model.model.blocks.0.attn.q.lora_A.weight") == "F32");
  CHECK(file.tensors.at("base_model.model.blocks.0.attn.q.lora_A.weight").shape() == Shape{2, 8});
  CHECK(file.tensors.at("base_model.model.blocks.1.mlp.fc1.lora_B.weight").shape() == Shape{32, 2});

  GPT<float> copy(tiny_config());
  const auto paths = load_peft_adapter(copy, dir.path());
  CHECK(paths.size() == 6);
  CHECK(logits(copy) == logits(model));
  GPT<float> plain(tiny_config());
  CHECK(logits(plain) != logits(model));  // the adapter matters
}

TEST_CASE("save_peft_adapter writes the config options and a rank-stabilised alpha", "[io][peft]") {
  TempDir dir;
  GPT<float> model(tiny_config());
  LoraConfig config = lora({"blocks.1.attn.q"}, 4, 6);
  config.use_rslora = true;
  config.dropout = 0.1;
  config.init = LoraInit::gaussian;
  attach(model, config, "default");
  PeftSaveOptions options;
  options.config = config;
  options.task_type = "CAUSAL_LM";
  options.base_model_name_or_path = "everlora/tiny";
  save_peft_adapter(model, dir.path(), "default", {}, options);
  const auto j = nlohmann::json::parse(read_file(dir.file(kPeftConfigFile)));
  CHECK(j.at("use_rslora") == true);
  CHECK(j.at("lora_alpha") == 6);
  CHECK(j.at("lora_dropout") == Approx(0.1));
  CHECK(j.at("init_lora_weights") == "gaussian");
  CHECK(j.at("task_type") == "CAUSAL_LM");
  CHECK(j.at("base_model_name_or_path") == "everlora/tiny");
  CHECK(j.at("target_modules") == nlohmann::json({"blocks.1.attn.q"}));  // "q" would match block 0

  GPT<float> copy(tiny_config());
  load_peft_adapter(copy, dir.path());
  auto& e = dynamic_cast<AdaptedLinear<float>&>(copy.find("blocks.1.attn.q")).experts().get("default");
  CHECK(e.rank() == 4);
  CHECK(e.scale() == Approx(6.0 / 2.0));
}

TEST_CASE("The PEFT fixture made by PyTorch loads and reproduces its logits", "[io][peft][golden]") {
  auto model = fixture_base();
  check_close(logits(*model), expected("base_logits"), 1e-5);
  const auto paths = load_peft_adapter(*model, kFixture);
  CHECK(paths == std::vector<std::string>{"blocks.0.attn.q", "blocks.0.attn.v", "blocks.0.mlp.fc1",
                                          "blocks.1.attn.q", "blocks.1.attn.v", "blocks.1.mlp.fc1"});
  check_close(logits(*model), expected("logits"), 1e-5);
  CHECK(model->num_parameters(/*trainable_only=*/true) == 2 * (2 * (16 + 16) + (16 + 64)));
}

TEST_CASE("A regular expression in target_modules matches whole paths, as in PEFT", "[io][peft]") {
  TempDir dir;
  copy_fixture_adapter(dir.path());
  auto j = fixture_config();
  j["target_modules"] = R"(blocks\.\d+\.(attn\.[qv]|mlp\.fc1))";
  write_config(dir.path(), j);
  auto model = fixture_base();
  CHECK(load_peft_adapter(*model, dir.path()).size() == 6);
  check_close(logits(*model), expected("logits"), 1e-5);
  j["target_modules"] = R"(attn\.[qv])";  // a suffix, not a full match of any path
  write_config(dir.path(), j);
  require_error([&] { load_peft_adapter(*fixture_base(), dir.path()); }, ErrorKind::format,
                {kPeftConfigFile, "match no Linear"});
}

TEST_CASE("load_peft_adapter refuses a missing tensor", "[io][peft][errors]") {
  TempDir dir;
  copy_fixture_adapter(dir.path());
  auto tensors = load_safetensors<float>(dir.file(kPeftWeightsFile)).tensors;
  tensors.erase("base_model.model.blocks.1.mlp.fc1.lora_B.weight");
  save_safetensors(dir.file(kPeftWeightsFile), tensors);
  auto model = fixture_base();
  require_error([&] { load_peft_adapter(*model, dir.path()); }, ErrorKind::format,
                {kPeftWeightsFile, "base_model.model.blocks.1.mlp.fc1.lora_B.weight", "missing"});
  CHECK(adapted_layers<float>(*model).empty());  // nothing changed
}

TEST_CASE("load_peft_adapter refuses an adapter saved from another base model", "[io][peft][errors]") {
  TempDir dir;
  GPT<float> model(tiny_config());
  attach(model, lora({"q", "v"}), "default");
  randomize_b(model, "default", 12);
  save_peft_adapter(model, dir.path());
  GPTConfig other_seed = tiny_config();
  other_seed.seed = 4;
  GPT<float> other(other_seed);
  require_error([&] { load_peft_adapter(other, dir.path()); }, ErrorKind::config,
                {kPeftWeightsFile, "another base model", "fingerprint"});
  CHECK(adapted_layers<float>(other).empty());  // nothing changed
  GPT<double> same_in_double(tiny_config());  // the fingerprint does not depend on the precision
  CHECK(load_peft_adapter(same_in_double, dir.path()).size() == 4);
}

TEST_CASE("load_peft_adapter refuses a NaN weight, naming the tensor", "[io][peft][errors]") {
  TempDir dir;
  copy_fixture_adapter(dir.path());
  auto tensors = load_safetensors<float>(dir.file(kPeftWeightsFile)).tensors;
  tensors.at("base_model.model.blocks.0.attn.q.lora_B.weight")[3] = std::numeric_limits<float>::quiet_NaN();
  save_safetensors(dir.file(kPeftWeightsFile), tensors);
  auto model = fixture_base();
  require_error([&] { load_peft_adapter(*model, dir.path()); }, ErrorKind::value,
                {kPeftWeightsFile, "base_model.model.blocks.0.attn.q.lora_B.weight", "nan", "flat index 3"});
  CHECK(adapted_layers<float>(*model).empty());
}

TEST_CASE("load_peft_adapter refuses an unexpected tensor", "[io][peft][errors]") {
  TempDir dir;
  copy_fixture_adapter(dir.path());
  auto tensors = load_safetensors<float>(dir.file(kPeftWeightsFile)).tensors;
  tensors.emplace("base_model.model.blocks.0.attn.k.lora_A.weight", Tensor<float>::zeros({2, 8}));
  save_safetensors(dir.file(kPeftWeightsFile), tensors);
  auto model = fixture_base();
  require_error([&] { load_peft_adapter(*model, dir.path()); }, ErrorKind::format,
                {kPeftWeightsFile, "unexpected tensor 'base_model.model.blocks.0.attn.k.lora_A.weight'"});
  CHECK(adapted_layers<float>(*model).empty());
}

TEST_CASE("load_peft_adapter refuses a tensor of the wrong shape", "[io][peft][errors]") {
  TempDir dir;
  copy_fixture_adapter(dir.path());
  auto tensors = load_safetensors<float>(dir.file(kPeftWeightsFile)).tensors;
  tensors["base_model.model.blocks.0.attn.v.lora_B.weight"] = Tensor<float>::zeros({7, 2});
  save_safetensors(dir.file(kPeftWeightsFile), tensors);
  auto model = fixture_base();
  require_error([&] { load_peft_adapter(*model, dir.path()); }, ErrorKind::shape,
                {kPeftWeightsFile, "base_model.model.blocks.0.attn.v.lora_B.weight", "[7, 2]", "[8, 2]"});
}

TEST_CASE("load_peft_adapter refuses tensors whose rank is not the config's r", "[io][peft][errors]") {
  TempDir dir;
  copy_fixture_adapter(dir.path());
  auto j = fixture_config();
  j["r"] = 4;
  write_config(dir.path(), j);
  auto model = fixture_base();
  require_error([&] { load_peft_adapter(*model, dir.path()); }, ErrorKind::shape,
                {kPeftWeightsFile, "base_model.model.blocks.0.attn.q.lora_A.weight", "[2, 8]", "[4, 8]",
                 "rank is not the config's r"});
}

TEST_CASE("load_peft_adapter refuses a target that matches no layer", "[io][peft][errors]") {
  TempDir dir;
  copy_fixture_adapter(dir.path());
  auto j = fixture_config();
  j["target_modules"] = {"q", "v", "fc1", "c_attn"};
  write_config(dir.path(), j);
  auto model = fixture_base();
  require_error([&] { load_peft_adapter(*model, dir.path()); }, ErrorKind::format,
                {kPeftConfigFile, "target 'c_attn' matches no Linear"});
  j["target_modules"] = {"ln1"};
  write_config(dir.path(), j);
  require_error([&] { load_peft_adapter(*model, dir.path()); }, ErrorKind::format,
                {kPeftConfigFile, "blocks.0.ln1", "LayerNorm", "not a Linear"});
  CHECK(adapted_layers<float>(*model).empty());
}

TEST_CASE("load_peft_adapter refuses a peft_type other than LORA", "[io][peft][errors]") {
  TempDir dir;
  copy_fixture_adapter(dir.path());
  auto j = fixture_config();
  j["peft_type"] = "IA3";
  write_config(dir.path(), j);
  auto model = fixture_base();
  require_error([&] { load_peft_adapter(*model, dir.path()); }, ErrorKind::format,
                {kPeftConfigFile, "peft_type", "IA3", "LORA"});
  j.erase("peft_type");
  write_config(dir.path(), j);
  require_error([&] { load_peft_adapter(*model, dir.path()); }, ErrorKind::format,
                {kPeftConfigFile, "no 'peft_type'"});
}

TEST_CASE("load_peft_adapter refuses DoRA and reads fan_in_fan_out adapters as plain ones", "[io][peft][errors]") {
  TempDir dir;
  copy_fixture_adapter(dir.path());
  auto j = fixture_config();
  j["fan_in_fan_out"] = true;  // GPT-2's Conv1D base layers: lora_A and lora_B are the same tensors
  write_config(dir.path(), j);
  auto with_flag = fixture_base();
  load_peft_adapter(*with_flag, dir.path());
  j["fan_in_fan_out"] = false;
  write_config(dir.path(), j);
  auto without = fixture_base();
  load_peft_adapter(*without, dir.path());
  const auto a = with_flag->state_dict(), b = without->state_dict();
  for (const auto& [name, t] : a)
    for (Index i = 0; i < t.numel(); ++i) REQUIRE(t[i] == b.at(name)[i]);
  auto model = fixture_base();
  j = fixture_config();
  j["use_dora"] = true;
  write_config(dir.path(), j);
  require_error([&] { load_peft_adapter(*model, dir.path()); }, ErrorKind::format,
                {kPeftConfigFile, "'use_dora' is not supported", "DoRA"});
}

TEST_CASE("load_peft_adapter refuses the other options it cannot honour", "[io][peft][errors]") {
  TempDir dir;
  copy_fixture_adapter(dir.path());
  auto model = fixture_base();
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"bias", "all"},
      {"lora_bias", true},
      {"rank_pattern", {{"fc1", 4}}},
      {"alpha_pattern", {{"q", 8}}},
      {"modules_to_save", {"head"}},
      {"layers_to_transform", {0}},
      {"init_lora_weights", "pissa"},
      {"target_modules", "all-linear"},
      {"target_modules", nlohmann::json::array()},
      {"r", 0},
      {"lora_alpha", "four"},
  };
  for (const auto& [key, value] : cases) {
    INFO(key << " = " << value.dump());
    auto j = fixture_config();
    j[key] = value;
    write_config(dir.path(), j);
    require_error([&] { load_peft_adapter(*model, dir.path()); }, ErrorKind::format, {kPeftConfigFile, key});
  }
  CHECK(adapted_layers<float>(*model).empty());
}

TEST_CASE("load_peft_adapter names the file it cannot read or parse", "[io][peft][errors]") {
  TempDir dir;
  auto model = fixture_base();
  require_error([&] { load_peft_adapter(*model, dir.path()); }, ErrorKind::io, {kPeftConfigFile});
  everlora_test::write_plain(dir.file(kPeftConfigFile), "{\"peft_type\": ");
  require_error([&] { load_peft_adapter(*model, dir.path()); }, ErrorKind::format, {kPeftConfigFile, "JSON"});
  write_config(dir.path(), fixture_config());
  require_error([&] { load_peft_adapter(*model, dir.path()); }, ErrorKind::io, {kPeftWeightsFile});
}

// Found by tests/fuzz/fuzz_peft_config: libstdc++'s regex compiler multiplied the digits of this
// back-reference into a long until it overflowed (undefined behaviour).
TEST_CASE("load_peft_adapter refuses a target regex holding a number too long for std::regex",
          "[io][peft][errors][fuzz]") {
  TempDir dir;
  copy_fixture_adapter(dir.path());
  everlora_test::write_plain(dir.file(kPeftConfigFile),
                             R"({"peft_type": "LORA", "r": 8, "lopa_alpha": 16, "target_modules": )"
                             R"("al0\\100000922337203685477580800000000l00-_modul"})");
  require_error([&] { load_peft_adapter(*fixture_base(), dir.path()); }, ErrorKind::format,
                {kPeftConfigFile, "'target_modules' is not supported", "more than 9 digits"});
}

// Found next to the fuzzer, beyond its 4 KB inputs: std::regex's recursive compiler and
// nlohmann's recursive dump (used to quote values in messages) overflowed the stack.
TEST_CASE("load_peft_adapter refuses a target regex too long or JSON nested too deep to handle",
          "[io][peft][errors][fuzz]") {
  TempDir dir;
  copy_fixture_adapter(dir.path());
  auto j = fixture_config();
  j["target_modules"] = std::string(20000, 'q');
  write_config(dir.path(), j);
  require_error([&] { load_peft_adapter(*fixture_base(), dir.path()); }, ErrorKind::format,
                {kPeftConfigFile, "'target_modules' is not supported", "20000 characters"});
  j["target_modules"] = std::string(5000, '(') + "q" + std::string(5000, ')');
  write_config(dir.path(), j);
  require_error([&] { load_peft_adapter(*fixture_base(), dir.path()); }, ErrorKind::format,
                {kPeftConfigFile, "10001 characters"});
  everlora_test::write_plain(dir.file(kPeftConfigFile), R"({"peft_type": "LORA", "bias": )" +
                                                            std::string(100000, '[') +
                                                            std::string(100000, ']') + "}");
  require_error([&] { load_peft_adapter(*fixture_base(), dir.path()); }, ErrorKind::format,
                {kPeftConfigFile, "nests deeper than 64 levels"});
}

// Found next to the fuzzer: std::regex's default matcher backtracks, and had not finished after
// 100 s on this pattern against one 15-character layer path.
TEST_CASE("load_peft_adapter matches a backtracking-prone target regex in bounded time",
          "[io][peft][errors][fuzz]") {
  TempDir dir;
  copy_fixture_adapter(dir.path());
  auto j = fixture_config();
  j["target_modules"] = "(.*.*)*x";
  write_config(dir.path(), j);
  require_error([&] { load_peft_adapter(*fixture_base(), dir.path()); }, ErrorKind::format,
                {kPeftConfigFile, "match no Linear"});
}

TEST_CASE("load_peft_adapter into a layer that already has the expert copies or refuses", "[io][peft]") {
  auto model = fixture_base();
  attach(*model, lora({"q", "v", "fc1"}), "default");
  load_peft_adapter(*model, kFixture);  // no second attach: the values are copied in
  check_close(logits(*model), expected("logits"), 1e-5);
  auto other = fixture_base();
  attach(*other, lora({"q"}, 3, 6), "default");
  require_error([&] { load_peft_adapter(*other, kFixture); }, ErrorKind::config,
                {"blocks.0.attn.q", "already has expert 'default' of rank 3"});
}

TEST_CASE("Several adapters round trip through PEFT sub-folders", "[io][peft]") {
  TempDir dir;
  GPT<float> model(tiny_config());
  attach(model, lora({"q", "v"}), "default");
  attach(model, lora({"fc1"}, 3, 3), "task1");
  attach(model, lora({"blocks.0.attn.q"}, 1, 2), "task2");
  randomize_b(model, "default", 1);
  randomize_b(model, "task1", 2);
  randomize_b(model, "task2", 3);
  CHECK(save_peft_adapters(model, dir.path()) == std::vector<std::string>{"default", "task1", "task2"});
  CHECK(dir.entries() == std::set<std::string>{kPeftConfigFile, kPeftWeightsFile, "task1", "task2"});
  CHECK(std::filesystem::exists(dir.file("task1/") + kPeftWeightsFile));
  CHECK(nlohmann::json::parse(read_file(dir.file("task1/") + kPeftConfigFile)).at("r") == 3);
  CHECK(load_safetensors<float>(dir.file("task2/") + kPeftWeightsFile).tensors.size() == 2);

  GPT<float> copy(tiny_config());
  CHECK(load_peft_adapters(copy, dir.path()) == std::vector<std::string>{"default", "task1", "task2"});
  const auto want = logits(model), got = logits(copy);
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(want[i]).margin(1e-6));
  GPT<float> single(tiny_config());
  load_peft_adapter(single, dir.file("task1"), "task1");
  CHECK(adapted_layers<float>(single).size() == 2);
}

TEST_CASE("PeftNameMap renames module paths both ways", "[io][peft][names]") {
  PeftNameMap names;
  CHECK(names.identity());
  CHECK(names.to_peft("blocks.0.attn.q") == "blocks.0.attn.q");
  names.prefix("blocks", "transformer.h").suffix("attn.q", "attn.q_proj").suffix("mlp.fc1", "mlp.c_fc");
  names.rule("head", "lm_head").rule("blocks.{i}.attn.o", "transformer.h.{i}.attn.c_proj");
  CHECK(names.to_peft("blocks.0.attn.q") == "transformer.h.0.attn.q_proj");
  CHECK(names.from_peft("transformer.h.0.attn.q_proj") == "blocks.0.attn.q");
  CHECK(names.to_peft("blocks.11.mlp.fc1") == "transformer.h.11.mlp.c_fc");
  CHECK(names.from_peft("transformer.h.11.mlp.c_fc") == "blocks.11.mlp.fc1");
  CHECK(names.to_peft("blocks.1.attn.v") == "transformer.h.1.attn.v");
  CHECK(names.to_peft("blocks.3.attn.o") == "transformer.h.3.attn.c_proj");
  CHECK(names.from_peft("transformer.h.3.attn.c_proj") == "blocks.3.attn.o");
  CHECK(names.to_peft("head") == "lm_head");
  CHECK(names.to_peft("blocks2.attn.q") == "blocks2.attn.q_proj");  // whole components only
  require_error([] { PeftNameMap().rule("blocks.{i}.q", "h.{j}.q"); }, ErrorKind::config, {"placeholders"});
  require_error([] { PeftNameMap().prefix("blocks.{i}", "h"); }, ErrorKind::config, {"only allowed in rule()"});
}

TEST_CASE("A name map renames the adapter's keys and targets on save and back on load", "[io][peft][names]") {
  TempDir dir;
  PeftNameMap names;
  names.prefix("blocks", "transformer.h").suffix("attn.q", "attn.q_proj").suffix("attn.v", "attn.v_proj");
  names.suffix("mlp.fc1", "mlp.c_fc");
  GPT<float> model(tiny_config());
  attach(model, lora({"q", "v", "fc1"}), "default");
  randomize_b(model, "default", 5);
  save_peft_adapter(model, dir.path(), "default", names);
  const auto keys = load_safetensors<float>(dir.file(kPeftWeightsFile)).tensors;
  CHECK(keys.count("base_model.model.transformer.h.0.attn.q_proj.lora_A.weight") == 1);
  CHECK(keys.count("base_model.model.transformer.h.1.mlp.c_fc.lora_B.weight") == 1);
  CHECK(keys.count("base_model.model.blocks.0.attn.q.lora_A.weight") == 0);
  CHECK(nlohmann::json::parse(read_file(dir.file(kPeftConfigFile))).at("target_modules") ==
        nlohmann::json({"c_fc", "q_proj", "v_proj"}));

  GPT<float> copy(tiny_config());
  require_error([&] { load_peft_adapter(copy, dir.path()); }, ErrorKind::format, {"matches no Linear"});
  load_peft_adapter(copy, dir.path(), "default", names);
  CHECK(logits(copy) == logits(model));

  PeftNameMap collapse;
  collapse.prefix("blocks.0", "h").prefix("blocks.1", "h");
  require_error([&] { save_peft_adapter(model, dir.path(), "default", collapse); }, ErrorKind::config,
                {"name map", "h.attn.q"});
}

TEST_CASE("save_peft_adapter refuses what PEFT cannot hold", "[io][peft][errors]") {
  TempDir dir;
  GPT<float> model(tiny_config());
  require_error([&] { save_peft_adapter(model, dir.path()); }, ErrorKind::config, {"no adapted layer"});
  attach(model, lora({"q"}), "default");
  attach(model, lora({"blocks.0.attn.v"}, 4, 4), "default");
  require_error([&] { save_peft_adapter(model, dir.path()); }, ErrorKind::config, {"rank 4", "rank 2"});
  PeftSaveOptions options;
  options.config = lora({"q"}, 2, 16);
  GPT<float> other(tiny_config());
  attach(other, lora({"q"}), "default");
  require_error([&] { save_peft_adapter(other, dir.path(), "default", {}, options); }, ErrorKind::config,
                {"options.config"});
  CHECK(dir.entries().empty());
}

TEST_CASE("The everlora sidecar holds extra tensors next to the PEFT files", "[io][peft]") {
  TempDir dir;
  CHECK(load_everlora_extra<float>(dir.path()).empty());
  StateDict<float> extra;
  extra.emplace("router.weight", Tensor<float>::ones({2, 3}));
  save_everlora_extra(dir.path(), extra);
  CHECK(dir.entries() == std::set<std::string>{kEverloraExtraFile});
  const auto back = load_everlora_extra<float>(dir.path());
  REQUIRE(back.count("router.weight") == 1);
  CHECK(back.at("router.weight").to_vector() == std::vector<float>(6, 1.0f));
}
