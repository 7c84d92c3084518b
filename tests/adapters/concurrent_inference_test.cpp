// Inference from several threads on one model gives, bit for bit, what serial inference gives:
// a GPT with summed LoRA experts, an AM-LoRA mixer and a JumpReLU-gated layer (docs/threads.md).
#include <catch2/catch.hpp>
#include <thread>

#include "everlora/everlora.hpp"

namespace {

using namespace everlora;

/// A small GPT whose q and v carry two summed experts, fc1 two experts mixed by an attention
/// mixer, and fc2 a JumpReLU-gated expert; in eval mode.
std::unique_ptr<GPT<float>> adapted_gpt() {
  GPTConfig config;
  config.context = 24, config.d_model = 32, config.n_layers = 2, config.n_heads = 2, config.seed = 3;
  auto model = std::make_unique<GPT<float>>(config);
  LoraConfig lora;
  lora.r = 4, lora.alpha = 8, lora.seed = 5;
  for (const char* expert : {"one", "two"}) {
    lora.target_modules = {"q", "v", "fc1"};
    attach(*model, lora, expert);
  }
  lora.target_modules = {"fc2"};
  attach(*model, lora, "gated");
  Rng rng(9);
  for (auto& [path, layer] : adapted_layers(*model)) {
    for (std::size_t e = 0; e < layer->experts().size(); ++e)  // B ≠ 0: every expert changes the output
      layer->experts()[e].b().vec() = Tensor<float>::normal(layer->experts()[e].b().shape(), rng, 0.f, 0.5f).vec();
    if (path.find("fc1") != std::string::npos)
      layer->set_combiner(std::make_shared<AttentionMixer<float>>(layer->in_features(), layer->out_features(), AttentionMixerConfig{}, rng));
    if (path.find("fc2") != std::string::npos) {
      auto gate = std::make_shared<JumpReLU<float>>();
      gate->add_expert("gated");
      layer->set_gate(gate);
    }
  }
  model->eval();
  return model;
}

std::vector<float> logits_of(GPT<float>& model, const std::vector<std::int32_t>& ids) {
  NoGrad no_graph;
  return model.forward(ids, 2, static_cast<Index>(ids.size() / 2)).to_vector();
}

}  // namespace

TEST_CASE("Inference from several threads on one model equals serial inference, bit for bit", "[adapters][threads]") {
  auto model = adapted_gpt();
  std::vector<std::vector<std::int32_t>> inputs;
  Rng rng(17);
  for (int i = 0; i < 6; ++i) {
    std::vector<std::int32_t> ids(2 * 20);
    for (auto& id : ids) id = static_cast<std::int32_t>(rng.below(256));
    inputs.push_back(ids);
  }
  std::vector<std::vector<float>> serial;
  for (const auto& ids : inputs) serial.push_back(logits_of(*model, ids));

  constexpr int kThreads = 4, kRounds = 3;
  std::vector<std::vector<std::vector<float>>> seen(kThreads, std::vector<std::vector<float>>(inputs.size()));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round)
        for (std::size_t k = 0; k < inputs.size(); ++k) {
          const std::size_t i = (k + static_cast<std::size_t>(t)) % inputs.size();  // threads on different inputs
          seen[static_cast<std::size_t>(t)][i] = logits_of(*model, inputs[i]);
        }
    });
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t)
    for (std::size_t i = 0; i < inputs.size(); ++i) CHECK(seen[static_cast<std::size_t>(t)][i] == serial[i]);

  // The layers' row counts saw every pass of every thread.
  for (auto& [path, layer] : adapted_layers(*model))
    CHECK(layer->expert_rows().front() == static_cast<Index>((1 + kThreads * kRounds) * inputs.size() * 40));
}
