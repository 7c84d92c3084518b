// GPT checkpoints: weights plus the config in the safetensors metadata rebuild the same model.
#include <catch2/catch.hpp>
#include <limits>

#include "everlora/io/gpt_checkpoint.hpp"
#include "io_support.hpp"
#include "support/fixtures.hpp"

using namespace everlora;

TEST_CASE("save_gpt then load_gpt rebuilds a model with identical outputs", "[io][gpt]") {
  everlora_test::TempDir dir;
  const GPTConfig config = everlora_test::tiny_gpt_config(20, 12, 8, 2, 2, /*seed=*/5);
  GPT<float> model(config);
  const std::string path = dir.file("gpt.safetensors");
  save_gpt(model, path, {{"step", "42"}});
  const auto loaded = load_gpt<float>(path);
  CHECK(loaded->config().n_layers == 2);
  CHECK(loaded->config().seed == 5);
  NoGrad no_graph;
  const std::vector<std::int32_t> ids = {1, 5, 9, 3};
  CHECK(loaded->forward(ids, 1, 4).to_vector() == model.forward(ids, 1, 4).to_vector());
  CHECK(load_safetensors<float>(path).metadata.at("step") == "42");
}

TEST_CASE("load_gpt refuses files without a config or with weights that do not fit", "[io][gpt][errors]") {
  everlora_test::TempDir dir;
  Rng rng(1);
  Linear<float> layer(3, 2, true, rng);
  save_module(layer, dir.file("linear.safetensors"));
  everlora_test::require_error([&] { load_gpt<float>(dir.file("linear.safetensors")); },
                               ErrorKind::format, {"linear.safetensors", "everlora.gpt_config"});
  const GPTConfig config = everlora_test::tiny_gpt_config(10, 4, 4, 1, 1);
  GPT<float> model(config);
  StateDict<float> state = model.state_dict();
  state.erase("head.weight");
  save_safetensors(dir.file("partial.safetensors"), state,
                   {{kGptConfigKey, gpt_config_to_json(config)}});
  everlora_test::require_error([&] { load_gpt<float>(dir.file("partial.safetensors")); },
                               ErrorKind::format, {"partial.safetensors", "head.weight"});
  save_safetensors(dir.file("badconfig.safetensors"), state, {{kGptConfigKey, "{\"d_model\": 4}"}});
  everlora_test::require_error([&] { load_gpt<float>(dir.file("badconfig.safetensors")); },
                               ErrorKind::format, {"badconfig.safetensors", "vocab_size"});
}

TEST_CASE("load_gpt refuses a NaN or infinite weight, naming the tensor", "[io][gpt][errors]") {
  everlora_test::TempDir dir;
  const GPTConfig config = everlora_test::tiny_gpt_config(10, 4, 4, 1, 1);
  GPT<float> model(config);
  StateDict<float> state;
  for (const auto& [name, p] : model.state_dict()) state.emplace(name, p.clone());
  state.at("head.weight")[5] = -std::numeric_limits<float>::infinity();
  save_safetensors(dir.file("inf.safetensors"), state, {{kGptConfigKey, gpt_config_to_json(config)}});
  everlora_test::require_error([&] { load_gpt<float>(dir.file("inf.safetensors")); }, ErrorKind::value,
                               {"inf.safetensors", "'head.weight'", "-inf", "flat index 5"});
}
