// Finite-difference gradient checks in double for every module, with respect to its input and
// to every one of its parameters.
#include <catch2/catch.hpp>

#include "everlora/nn.hpp"
#include "support/gradcheck.hpp"
#include "support/fixtures.hpp"

using namespace everlora;
using everlora_test::gradcheck;
using Inputs = std::vector<Tensor<double>>;

namespace {
/// The module's parameters followed by `extra` inputs: gradcheck perturbs them in place.
Inputs with_parameters(const Module<double>& m, Inputs extra = {}) {
  Inputs all = m.parameters();
  all.insert(all.end(), extra.begin(), extra.end());
  return all;
}
}  // namespace

TEST_CASE("gradcheck: Linear with and without bias", "[nn][gradcheck]") {
  Rng rng(1);
  Linear<double> with_bias(4, 3, true, rng), no_bias(4, 3, false, rng);
  auto x = everlora_test::random_input({2, 5, 4}, rng);
  EVERLORA_CHECK_GRADIENT(gradcheck([&](const Inputs& in) { return with_bias.forward(in.back()); },
                                    with_parameters(with_bias, {x})));
  EVERLORA_CHECK_GRADIENT(gradcheck([&](const Inputs& in) { return no_bias.forward(in.back()); },
                                    with_parameters(no_bias, {x})));
}

TEST_CASE("gradcheck: Embedding and LayerNorm", "[nn][gradcheck]") {
  Rng rng(2);
  Embedding<double> table(6, 3, rng);
  EVERLORA_CHECK_GRADIENT(gradcheck([&](const Inputs&) { return table.forward({5, 0, 5, 2}, {2, 2}); },
                                    with_parameters(table)));
  LayerNorm<double> norm(5);
  auto x = everlora_test::random_input({3, 5}, rng, -2, 2);
  EVERLORA_CHECK_GRADIENT(gradcheck([&](const Inputs& in) { return norm.forward(in.back()); },
                                    with_parameters(norm, {x})));
}

TEST_CASE("gradcheck: CausalSelfAttention with its four projections", "[nn][gradcheck]") {
  Rng rng(3);
  CausalSelfAttention<double> attn(8, 2, rng);
  auto x = everlora_test::random_input({2, 4, 8}, rng);
  EVERLORA_CHECK_GRADIENT(gradcheck([&](const Inputs& in) { return attn.forward(in.back()); },
                                    with_parameters(attn, {x})));
}

TEST_CASE("gradcheck: MLP, TransformerBlock and MLPClassifier", "[nn][gradcheck]") {
  Rng rng(4);
  MLP<double> mlp(4, 8, rng);
  auto x = everlora_test::random_input({2, 3, 4}, rng);
  EVERLORA_CHECK_GRADIENT(gradcheck([&](const Inputs& in) { return mlp.forward(in.back()); },
                                    with_parameters(mlp, {x})));
  TransformerBlock<double> block(8, 2, 16, 0.0, 0, rng);
  auto h = everlora_test::random_input({1, 3, 8}, rng);
  EVERLORA_CHECK_GRADIENT(gradcheck([&](const Inputs& in) { return block.forward(in.back()); },
                                    with_parameters(block, {h})));
  MLPClassifier<double> classifier({6, 5, 3}, rng);
  auto features = everlora_test::random_input({4, 6}, rng);
  // ReLU kinks are measure-zero for random inputs; none may be hit here.
  EVERLORA_CHECK_GRADIENT(gradcheck([&](const Inputs& in) { return classifier.forward(in.back()); },
                                    with_parameters(classifier, {features})));
}

TEST_CASE("gradcheck: a whole GPT through its cross-entropy loss", "[nn][gradcheck]") {
  GPTConfig config = everlora_test::tiny_gpt_config(8, 4, 4, 1, 2);
  config.ffn_mult = 2;
  GPT<double> model(config);
  // GPT-2's init is tiny (0.02); larger weights make every path's gradient visible.
  Rng rng(5);
  for (auto& p : model.parameters()) p.vec() += 0.3 * Tensor<double>::normal(p.shape(), rng, 0, 1).vec();
  const std::vector<std::int32_t> ids = {1, 7, 3, 0, 2, 2}, targets = {7, 3, 0, 2, 2, 5};
  EVERLORA_CHECK_GRADIENT(gradcheck(
      [&](const Inputs&) { return cross_entropy(model.forward(ids, 2, 3), targets); },
      model.parameters()));
}

TEST_CASE("forward_at: the logits of chosen positions, the same values and gradients as forward's", "[nn][gradcheck]") {
  DecoderConfig config;  // a tied-embedding Llama: the head is the embedding table
  config.vocab_size = 9, config.hidden_size = 8, config.intermediate_size = 12, config.num_hidden_layers = 1;
  config.num_attention_heads = 2, config.num_key_value_heads = 1, config.head_dim = 4, config.max_position_embeddings = 8;
  config.tie_word_embeddings = true;
  DecoderLM<double> model(config);
  Rng rng(6);
  for (auto& p : model.parameters()) p.vec() += 0.3 * Tensor<double>::normal(p.shape(), rng, 0, 1).vec();
  const std::vector<std::int32_t> ids = {1, 7, 3, 0, 2, 2}, rows = {1, 2, 5}, targets = {3, 8, 4};
  const Tensor<double> all = model.forward(ids, 2, 3);
  const Tensor<double> some = model.forward_at(ids, 2, 3, rows);
  REQUIRE(some.shape() == Shape{3, 9});
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (Index v = 0; v < 9; ++v) CHECK(some[static_cast<Index>(r) * 9 + v] == Approx(all[rows[r] * 9 + v]).epsilon(1e-12));
  EVERLORA_CHECK_GRADIENT(gradcheck([&](const Inputs&) { return cross_entropy(model.forward_at(ids, 2, 3, rows), targets); },
                                    model.parameters()));
}
