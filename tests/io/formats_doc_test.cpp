// The snippets of docs/formats.md, compiled and run (STYLE.md: every doc snippet is compiled).
// Keep each block here identical to the one on the page.
#include <catch2/catch.hpp>

#include <vector>

#include "everlora/io.hpp"
#include "everlora/nn/linear.hpp"
#include "io/io_support.hpp"

TEST_CASE("The safetensors snippet of docs/formats.md runs", "[io][docs]") {
  everlora_test::TempDir dir;
  const std::string path = dir.file("tensors.safetensors");
  everlora::Rng rng(0);
  // ---- docs/formats.md: safetensors ----
  everlora::StateDict<float> tensors;
  tensors.emplace("encoder.weight", everlora::Tensor<float>::normal({4, 3}, rng, 0.0f, 0.02f));
  tensors.emplace("encoder.bias", everlora::Tensor<float>::zeros({4}));
  everlora::save_safetensors(path, tensors, {{"note", "two tensors"}});

  auto file = everlora::load_safetensors<float>(path);
  const auto& w = file.tensors.at("encoder.weight");   // [4, 3]
  const std::string& note = file.metadata.at("note");  // "two tensors"
  // ----
  CHECK(w.shape() == everlora::Shape{4, 3});
  CHECK(note == "two tensors");
}

TEST_CASE("The module snippet of docs/formats.md runs", "[io][docs]") {
  everlora_test::TempDir dir;
  const std::string path = dir.file("layer.safetensors");
  everlora::Rng rng(0);
  // ---- docs/formats.md: module save and load ----
  everlora::Linear<float> layer(3, 2, /*bias=*/true, rng);
  everlora::save_module(layer, path, {{"step", "100"}});

  everlora::Linear<float> copy(3, 2, /*bias=*/true, rng);
  everlora::load_module(copy, path);  // copy.forward(x) now equals layer.forward(x)
  // ----
  const auto x = everlora::Tensor<float>::ones({1, 3});
  CHECK(copy.forward(x).to_vector() == layer.forward(x).to_vector());
}

TEST_CASE("The atomic-write snippet of docs/formats.md runs", "[io][docs]") {
  everlora_test::TempDir dir;
  const std::string path = dir.file("out.bin");
  const std::vector<float> values = {1.0f, 2.0f};
  // ---- docs/formats.md: atomic writes ----
  everlora::write_file_atomically(path, "bytes");        // from a string
  everlora::write_file_atomically(path, [&](everlora::FileWriter& w) {
    w.write("header");                                   // streamed to the temporary file
    w.write(values.data(), values.size() * sizeof(float));
  });
  std::string back = everlora::read_file(path);          // Error(io) naming the path on failure
  // ----
  CHECK(back.size() == 6 + 2 * sizeof(float));
  CHECK(back.substr(0, 6) == "header");
}

TEST_CASE("The PEFT snippets of docs/formats.md run", "[io][docs][peft]") {
  everlora_test::TempDir tmp;
  const std::string dir = tmp.file("adapter");
  const std::string hf_dir = tmp.file("adapter_hf");
  everlora::GPTConfig gpt;
  gpt.vocab_size = 16;
  gpt.context = 8;
  gpt.d_model = 8;
  gpt.n_layers = 2;
  gpt.n_heads = 2;
  everlora::GPT<float> model(gpt);
  // ---- docs/formats.md: PEFT save and load ----
  everlora::LoraConfig config;
  config.r = 8;
  config.alpha = 16;
  config.target_modules = {"q", "v"};
  everlora::attach(model, config);                   // expert "default" on every attn.q and attn.v
  // ... train model.trainable_parameters() ...
  everlora::save_peft_adapter(model, dir);           // dir/adapter_config.json, adapter_model.safetensors

  everlora::GPT<float> fresh(model.config());
  everlora::load_peft_adapter(fresh, dir);           // attaches "default", copies A and B in
  // ----
  // ---- docs/formats.md: PEFT name map ----
  everlora::PeftNameMap names;
  names.prefix("blocks", "transformer.h")            // blocks.0.attn.q → transformer.h.0.attn.q_proj
      .suffix("attn.q", "attn.q_proj")
      .suffix("attn.v", "attn.v_proj");
  everlora::save_peft_adapter(model, hf_dir, "default", names);
  everlora::load_peft_adapter(fresh, hf_dir, "default", names);  // the same map reads it back
  // ----
  CHECK(everlora::adapted_layers<float>(fresh).size() == 4);
  CHECK(everlora::load_safetensors<float>(hf_dir + "/adapter_model.safetensors")
            .tensors.count("base_model.model.transformer.h.1.attn.v_proj.lora_B.weight") == 1);
}
