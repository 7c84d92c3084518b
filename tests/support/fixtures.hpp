// everlora tests — small shared fixtures.
#ifndef EVERLORA_TEST_SUPPORT_FIXTURES_HPP
#define EVERLORA_TEST_SUPPORT_FIXTURES_HPP

#include <cstdint>

#include "everlora/nn/gpt.hpp"

namespace everlora_test {

/// A GPT small enough for gradient checks and quick tests.
inline everlora::GPTConfig tiny_gpt_config(everlora::Index vocab = 16, everlora::Index context = 8,
                                           everlora::Index d_model = 8, int layers = 2, int heads = 2,
                                           std::uint64_t seed = 0) {
  everlora::GPTConfig c;
  c.vocab_size = vocab;
  c.context = context;
  c.d_model = d_model;
  c.n_layers = layers;
  c.n_heads = heads;
  c.seed = seed;
  return c;
}

}  // namespace everlora_test

#endif  // EVERLORA_TEST_SUPPORT_FIXTURES_HPP
