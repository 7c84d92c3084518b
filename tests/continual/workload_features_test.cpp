// The workloads' hidden states (loss_with_features, which I-LoRA's consistency term reads): the
// same loss as loss(), one tensor per block, padding rows zero and not counted, with a graph.
#include <catch2/catch.hpp>

#include <memory>

#include "continual/tiny_fixtures.hpp"
#include "everlora/continual.hpp"
#include "everlora/nn.hpp"

using namespace everlora;

TEST_CASE("The text workload returns each block's hidden states with padding zeroed", "[continual][workload]") {
  auto gpt = everlora_test::tiny_gpt(64, 3);
  Stream stream{"tiny", {Task{{"pick", {"yes", "no"}, TaskMetric::exact_match},
                              {{"Answer.", "a short one", "yes"}, {"Answer.", "a much longer input here", "no"}}, {}, {}}}};
  TextWorkload<double> w(gpt, stream);
  const std::vector<ExampleRef> batch{{0, 0}, {0, 1}};
  BlockFeatures<double> features;
  const Tensor<double> loss = w.loss_with_features(batch, features);
  CHECK(loss.item() == Approx(w.loss(batch).item()).epsilon(1e-14));
  REQUIRE(features.blocks.size() == 2);
  const Index rows = features.blocks[0].dim(0);
  CHECK(features.blocks[0].shape() == Shape{rows, 16});
  CHECK(rows % 2 == 0);  // [2 examples · seq, d_model]
  // The shorter example's tail is padding: zero rows, and rows counts only the real tokens.
  Index zero_rows = 0;
  for (Index r = 0; r < rows; ++r) {
    bool zero = true;
    for (Index c = 0; c < 16; ++c) zero = zero && features.blocks[1][r * 16 + c] == 0.0;
    zero_rows += zero ? 1 : 0;
  }
  CHECK(zero_rows > 0);
  CHECK(features.rows == rows - zero_rows);
  // With a graph: a loss on the features reaches the model's weights.
  sum(features.blocks[1] * features.blocks[1]).backward();
  CHECK(gpt->blocks()[0].named_parameters().front().second.has_grad());
}

TEST_CASE("The image workload returns each hidden layer's output", "[continual][workload]") {
  Rng rng(4);
  auto mlp = std::make_shared<MLPClassifier<double>>(std::vector<Index>{4, 5, 3, 2}, rng);
  const ImageSet set = everlora_test::tiny_image_set();
  ImageWorkload<double> w(mlp, {ImageTask{"t", set, set, set}});
  BlockFeatures<double> features;
  const std::vector<ExampleRef> batch{{0, 0}, {0, 2}};
  CHECK(w.loss_with_features(batch, features).item() == Approx(w.loss(batch).item()).epsilon(1e-14));
  REQUIRE(features.blocks.size() == 2);
  CHECK(features.blocks[0].shape() == Shape{2, 5});
  CHECK(features.blocks[1].shape() == Shape{2, 3});
  CHECK(features.rows == 2);
  for (Index i = 0; i < features.blocks[0].numel(); ++i) CHECK(features.blocks[0][i] >= 0.0);  // after ReLU
}
