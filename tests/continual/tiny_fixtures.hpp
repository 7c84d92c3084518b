// everlora tests — tiny fixtures for the workloads: a 2-block GPT of width 16, strategy options
// sized for it, and three 2×2 images.
#ifndef EVERLORA_TESTS_CONTINUAL_TINY_FIXTURES_HPP
#define EVERLORA_TESTS_CONTINUAL_TINY_FIXTURES_HPP

#include <cstdint>
#include <memory>

#include "everlora/continual/strategy.hpp"
#include "everlora/data/fashion_mnist.hpp"
#include "everlora/nn/gpt.hpp"

namespace everlora_test {

/// A byte-level GPT of width 16, 2 blocks of 2 heads, in double.
inline std::shared_ptr<everlora::GPT<double>> tiny_gpt(everlora::Index context, std::uint64_t seed) {
  everlora::GPTConfig config;
  config.d_model = 16;
  config.n_layers = 2;
  config.n_heads = 2;
  config.context = context;
  config.seed = seed;
  return std::make_shared<everlora::GPT<double>>(config);
}

/// Three 2×2 images with labels {0, 1, 1}: enough for an ImageWorkload on a tiny MLP.
inline everlora::ImageSet tiny_image_set() {
  everlora::ImageSet set;
  set.count = 3, set.rows = 2, set.cols = 2;
  set.pixels = {0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
  set.labels = {0, 1, 1};
  return set;
}

/// Small adapters for the tiny GPT (rank 2 on q and v), and routers small enough for it: SAPT's
/// bottleneck of 8 with half of each task's examples as pseudo inputs, MoA's 4 prompts per domain.
inline everlora::StrategyOptions tiny_text_options() {
  everlora::StrategyOptions o;
  o.lora.r = 2;
  o.lora.alpha = 4;
  o.lora.target_modules = {"q", "v"};
  o.sapt.bottleneck = 8;
  o.sapt.pseudo_fraction = 0.5;
  o.moa.prompt_buffer = 4;
  o.moa.router_steps = 20;
  return o;
}

}  // namespace everlora_test

#endif  // EVERLORA_TESTS_CONTINUAL_TINY_FIXTURES_HPP
