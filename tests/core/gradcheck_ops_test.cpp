// Finite-difference gradient checks in double for every differentiable op of the core.
// One TEST_CASE per op family; each checks all of its inputs, including broadcast ones.
#include <catch2/catch.hpp>

#include "everlora/core.hpp"
#include "support/gradcheck.hpp"

using namespace everlora;
using everlora_test::gradcheck;
using everlora_test::random_away_from_zero;
using everlora_test::random_input;
using Inputs = std::vector<Tensor<double>>;

TEST_CASE("gradcheck: matmul and its transposed and batched variants", "[core][gradcheck]") {
  Rng rng(1);
  SECTION("a·b") {
    EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return matmul(in[0], in[1]); },
                                      {random_input({3, 4}, rng), random_input({4, 5}, rng)}));
  }
  SECTION("a·bᵀ with leading dims flattened") {
    EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return matmul_nt(in[0], in[1]); },
                                      {random_input({2, 3, 4}, rng), random_input({5, 4}, rng)}));
  }
  SECTION("aᵀ·b") {
    EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return matmul_tn(in[0], in[1]); },
                                      {random_input({4, 3}, rng), random_input({4, 5}, rng)}));
  }
  SECTION("batched 4-D, as in attention") {
    EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return matmul(in[0], in[1]); },
                                      {random_input({2, 2, 3, 4}, rng), random_input({2, 2, 4, 3}, rng)}));
  }
  SECTION("batched a·bᵀ and aᵀ·b") {
    EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return matmul_nt(in[0], in[1]); },
                                      {random_input({3, 2, 4}, rng), random_input({3, 5, 4}, rng)}));
    EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return matmul_tn(in[0], in[1]); },
                                      {random_input({3, 4, 2}, rng), random_input({3, 4, 5}, rng)}));
  }
}

TEST_CASE("gradcheck: add, sub, mul, div with every broadcast mode", "[core][gradcheck]") {
  Rng rng(2);
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {3, 4}},        // equal
      {{2, 3, 4}, {4}},        // row
      {{2, 3, 4}, {1, 4}},     // row written as [1, C]
      {{2, 3, 4}, {2, 3, 1}},  // column
      {{3, 4}, {1}},           // single value
      {{4}, {3, 4}},           // the small operand on the left
  };
  for (const auto& [sa, sb] : shapes) {
    INFO("a " << sa.str() << ", b " << sb.str());
    auto a = random_input(sa, rng);
    auto b = random_away_from_zero(sb, rng, 0.5, 1.5);  // keeps div smooth
    EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return in[0] + in[1]; }, {a, b}));
    EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return in[0] - in[1]; }, {a, b}));
    EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return in[0] * in[1]; }, {a, b}));
    EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return in[0] / in[1]; }, {a, b}));
  }
}

TEST_CASE("gradcheck: scalar arithmetic", "[core][gradcheck]") {
  Rng rng(3);
  auto x = random_away_from_zero({3, 4}, rng, 0.5, 1.5);
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return in[0] + 1.7; }, {x}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return 1.7 - in[0]; }, {x}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return in[0] * 1.7; }, {x}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return in[0] / 1.7; }, {x}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return 1.7 / in[0]; }, {x}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return -in[0]; }, {x}));
  auto positive = random_input({3, 4}, rng, 0.5, 1.5);
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return pow(in[0], 3.0); }, {positive}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return pow(in[0], -0.5); }, {positive}));
}

TEST_CASE("gradcheck: activations and elementwise functions", "[core][gradcheck]") {
  Rng rng(4);
  auto x = random_input({3, 5}, rng, -2.0, 2.0);
  auto positive = random_input({3, 5}, rng, 0.5, 2.0);
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return gelu(in[0]); }, {x}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return silu(in[0]); }, {x}));
  auto up = random_input({3, 5}, rng, -2.0, 2.0);
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return swiglu(in[0], in[1]); }, {x, up}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return tanh(in[0]); }, {x}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return sigmoid(in[0]); }, {x}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return exp(in[0]); }, {x}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return log(in[0]); }, {positive}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return sqrt(in[0]); }, {positive}));
}

TEST_CASE("gradcheck: relu and abs away from their kink, and the kink is detected", "[core][gradcheck]") {
  Rng rng(5);
  auto x = random_away_from_zero({3, 5}, rng);
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return relu(in[0]); }, {x}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return abs(in[0]); }, {x}));
  // On the kink the one-sided differences disagree: flagged, and skipped only when allow-listed.
  auto at_kink = Tensor<double>::from_vector({3}, {-0.5, 0.0, 0.5}).requires_grad_();
  const auto strict = gradcheck([](const Inputs& in) { return abs(in[0]); }, {at_kink});
  CHECK(strict.kinks == 1);
  CHECK_FALSE(strict.passed());
  everlora_test::GradCheckOptions allow;
  allow.allow_kinks = true;
  const auto lenient = gradcheck([](const Inputs& in) { return abs(in[0]); }, {at_kink}, allow);
  CHECK(lenient.kinks == 1);
  CHECK(lenient.checked == 2);
  EVERLORA_CHECK_GRADIENT(lenient);
}

TEST_CASE("gradcheck: sum and mean over all elements and along each axis", "[core][gradcheck]") {
  Rng rng(6);
  auto x = random_input({2, 3, 4}, rng);
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return sum(in[0]); }, {x}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return mean(in[0]); }, {x}));
  for (int axis : {0, 1, 2, -1}) {
    INFO("axis " << axis);
    EVERLORA_CHECK_GRADIENT(gradcheck([axis](const Inputs& in) { return sum(in[0], axis); }, {x}));
    EVERLORA_CHECK_GRADIENT(
        gradcheck([axis](const Inputs& in) { return mean(in[0], axis, true); }, {x}));
  }
}

TEST_CASE("gradcheck: reshape, transpose, slice, repeat_rows, concat", "[core][gradcheck]") {
  Rng rng(7);
  auto x = random_input({2, 3, 4}, rng);
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return reshape(in[0], {6, 4}); }, {x}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return transpose(in[0], 0, 2); }, {x}));
  auto x4 = random_input({2, 3, 4, 2}, rng);
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return transpose(in[0], 1, 2); }, {x4}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return slice(in[0], 1, 1, 3); }, {x}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return slice(in[0], -1, 0, 2); }, {x}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return repeat_rows(reshape(in[0], {in[0].numel() / 3, 3}), 4); }, {x}));
  auto y = random_input({2, 1, 4}, rng);
  EVERLORA_CHECK_GRADIENT(
      gradcheck([](const Inputs& in) { return concat<double>({in[0], in[1], in[0]}, 1); }, {x, y}));
}

TEST_CASE("gradcheck: softmax and log-softmax", "[core][gradcheck]") {
  Rng rng(8);
  auto x = random_input({2, 3, 5}, rng, -3.0, 3.0);
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return softmax(in[0]); }, {x}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return log_softmax(in[0]); }, {x}));
}

TEST_CASE("gradcheck: sparsemax, rows with one, some and all entries in the support", "[core][gradcheck]") {
  Rng rng(18);
  auto x = random_input({2, 3, 5}, rng, -1.0, 1.0);
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return sparsemax(in[0]); }, {x}));
  // {3, 0, 0}: support of one; {0.1, 0.2, 0.15}: all three; {1, 0.5, -1}: two.
  auto rows = Tensor<double>::from_vector({3, 3}, {3, 0, 0, 0.1, 0.2, 0.15, 1, 0.5, -1});
  rows.requires_grad_(true);
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return sparsemax(in[0]); }, {rows}));
}

TEST_CASE("gradcheck: cross-entropy with an ignored row, mse and L1 losses", "[core][gradcheck]") {
  Rng rng(9);
  auto logits = random_input({2, 3, 5}, rng, -2.0, 2.0);
  const std::vector<std::int32_t> targets = {0, 4, kIgnoreIndex, 2, 2, 1};
  EVERLORA_CHECK_GRADIENT(
      gradcheck([&](const Inputs& in) { return cross_entropy(in[0], targets); }, {logits}));
  auto a = random_input({3, 4}, rng);
  auto b = random_input({3, 4}, rng, 2.0, 3.0);  // |a − b| ≥ 1: away from L1's kink
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return mse_loss(in[0], in[1]); }, {a, b}));
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return l1_loss(in[0], in[1]); }, {a, b}));
}

TEST_CASE("gradcheck: fused layer norm for x, weight and bias", "[core][gradcheck]") {
  Rng rng(10);
  auto x = random_input({2, 3, 6}, rng, -2.0, 2.0);
  auto w = random_input({6}, rng, 0.5, 1.5);
  auto b = random_input({6}, rng);
  EVERLORA_CHECK_GRADIENT(
      gradcheck([](const Inputs& in) { return layer_norm(in[0], in[1], in[2]); }, {x, w, b}));
}

TEST_CASE("gradcheck: embedding lookup with repeated ids", "[core][gradcheck]") {
  Rng rng(11);
  auto table = random_input({7, 4}, rng);
  const std::vector<std::int32_t> ids = {1, 3, 1, 6, 0, 3};
  EVERLORA_CHECK_GRADIENT(
      gradcheck([&](const Inputs& in) { return embedding(in[0], ids, {2, 3}); }, {table}));
}

TEST_CASE("gradcheck: dropout with a fixed mask", "[core][gradcheck]") {
  Rng rng(12);
  auto x = random_input({4, 5}, rng);
  // The same generator state on every evaluation gives the same mask, as finite differences need.
  EVERLORA_CHECK_GRADIENT(gradcheck(
      [](const Inputs& in) {
        Rng mask_rng(99);
        return dropout(in[0], 0.3, mask_rng);
      },
      {x}));
}

TEST_CASE("gradcheck: masked mean and max pooling", "[core][gradcheck]") {
  Rng rng(13);
  auto x = random_input({2, 4, 3}, rng);
  const auto mask = Tensor<double>::from_vector({2, 4}, {1, 1, 0, 1, 0, 1, 1, 0});
  EVERLORA_CHECK_GRADIENT(gradcheck([&](const Inputs& in) { return mean_pool(in[0], mask); }, {x}));
  // Uniform random values have no ties, so max pooling is smooth at this point.
  EVERLORA_CHECK_GRADIENT(gradcheck([&](const Inputs& in) { return max_pool(in[0], mask); }, {x}));
}

TEST_CASE("gradcheck: fused causal attention, full and KV-cache decode", "[core][gradcheck]") {
  Rng rng(14);
  auto q = random_input({2, 5, 8}, rng);
  auto k = random_input({2, 5, 8}, rng);
  auto v = random_input({2, 5, 8}, rng);
  EVERLORA_CHECK_GRADIENT(
      gradcheck([](const Inputs& in) { return causal_attention(in[0], in[1], in[2], 2); }, {q, k, v}));
  auto q_step = random_input({2, 2, 8}, rng);
  EVERLORA_CHECK_GRADIENT(gradcheck(
      [](const Inputs& in) { return causal_attention(in[0], in[1], in[2], 4); }, {q_step, k, v}));
}

TEST_CASE("gradcheck: grouped-query attention, full and KV-cache decode", "[core][gradcheck]") {
  Rng rng(16);
  auto q = random_input({2, 5, 12}, rng);  // 6 query heads of 2
  auto k = random_input({2, 5, 4}, rng);   // 2 key/value heads: groups of 3
  auto v = random_input({2, 5, 4}, rng);
  EVERLORA_CHECK_GRADIENT(
      gradcheck([](const Inputs& in) { return causal_attention(in[0], in[1], in[2], 6, 2); }, {q, k, v}));
  auto q_step = random_input({2, 2, 12}, rng);  // one key/value head shared by all six (multi-query)
  auto k_one = random_input({2, 5, 2}, rng);
  auto v_one = random_input({2, 5, 2}, rng);
  EVERLORA_CHECK_GRADIENT(gradcheck(
      [](const Inputs& in) { return causal_attention(in[0], in[1], in[2], 6, 1); }, {q_step, k_one, v_one}));
}

TEST_CASE("gradcheck: fused RMS norm for x and weight", "[core][gradcheck]") {
  Rng rng(17);
  auto x = random_input({2, 3, 6}, rng);
  auto w = random_input({6}, rng, 0.5, 1.5);
  EVERLORA_CHECK_GRADIENT(gradcheck([](const Inputs& in) { return rms_norm(in[0], in[1], 1e-6); }, {x, w}));
}

TEST_CASE("gradcheck: rotary position embedding, plain and scaled frequencies", "[core][gradcheck]") {
  Rng rng(18);
  auto x = random_input({2, 4, 12}, rng);  // 3 heads of 4
  for (auto kind : {RopeScaling::Kind::none, RopeScaling::Kind::linear, RopeScaling::Kind::llama3}) {
    RopeScaling scaling;
    scaling.kind = kind;
    scaling.factor = 4;
    scaling.original_max_position_embeddings = 16;
    const auto [cos, sin] = rope_angles<double>(rope_inverse_frequencies(4, 10000.0, scaling), 3, 4);
    EVERLORA_CHECK_GRADIENT(gradcheck([&, c = cos, s = sin](const Inputs& in) { return rope(in[0], 3, c, s); }, {x}));
  }
}

TEST_CASE("gradcheck: a composite graph that reuses a tensor", "[core][gradcheck][autograd]") {
  Rng rng(15);
  auto x = random_input({3, 4}, rng);
  auto w = random_input({4, 4}, rng);
  EVERLORA_CHECK_GRADIENT(gradcheck(
      [](const Inputs& in) {
        const auto h = tanh(matmul(in[0], in[1]));
        return sum(h * in[0] + matmul_nt(h, in[1]), 0);
      },
      {x, w}));
}
