// What the workloads hand a router (SAPT, MoA): the prompt's token embeddings with padding and
// answer masked, the base model's hidden state when a router asks for a layer, pseudo inputs
// sampled from the GPT, and both methods running end to end on text and images.
#include <catch2/catch.hpp>

#include <memory>

#include "continual/tiny_fixtures.hpp"
#include "everlora/continual.hpp"
#include "everlora/nn.hpp"

using namespace everlora;

namespace {

Stream routing_test_stream() {
  auto task = [](const std::string& name, const std::string& instruction, const std::string& a, const std::string& b) {
    Task t{{name, {a, b}, TaskMetric::exact_match}, {}, {}, {}};
    for (int i = 0; i < 6; ++i) t.train.push_back({instruction, "item " + std::to_string(i), i % 2 ? a : b});
    t.dev = t.test = {t.train[0], t.train[1]};
    return t;
  };
  return Stream{"routing", {task("colour", "Name the colour.", "red", "blue"), task("size", "Name the size.", "big", "small")}};
}

TrainerOptions text_routing_trainer() {
  TrainerOptions t;
  t.steps_per_task = 3;
  t.batch_size = 2;
  t.progress = ProgressMode::silent;
  return t;
}

}  // namespace

TEST_CASE("The text workload routes on the prompt's token embeddings, padding and answer masked", "[continual][workload][routing]") {
  auto gpt = everlora_test::tiny_gpt(96, 5);
  const Stream stream = routing_test_stream();
  TextWorkload<double> w(gpt, stream);
  const RoutingInput<double> in = w.routing_input({{0, 0}, {1, 5}}, Split::train, 0);
  const std::vector<std::int32_t> p0 = encode_prompt(stream.tasks[0].train[0], stream.tasks[0].spec, 96);
  const std::vector<std::int32_t> p1 = encode_prompt(stream.tasks[1].train[5], stream.tasks[1].spec, 96);
  const Index seq = static_cast<Index>(std::max(p0.size(), p1.size()));
  REQUIRE(in.tokens.shape() == Shape{2, seq, 16});
  CHECK(sum(in.mask).item() == static_cast<double>(p0.size() + p1.size()));
  for (std::size_t i = 0; i < p1.size(); ++i)
    for (Index c = 0; c < 16; ++c) CHECK(in.tokens[(seq + static_cast<Index>(i)) * 16 + c] == gpt->wte().weight()[p1[i] * 16 + c]);

  // layer 1: the base model's state after block 1 on the same prompt
  const RoutingInput<double> hidden = w.routing_input({{1, 5}}, Split::train, 1);
  std::vector<Tensor<double>> blocks;
  gpt->eval();
  gpt->forward(p1, 1, static_cast<Index>(p1.size()), nullptr, &blocks);
  CHECK((hidden.tokens.vec() - blocks[0].vec()).cwiseAbs().maxCoeff() == 0.0);
  CHECK_THROWS_WITH(w.routing_input({{0, 0}}, Split::train, 3), Catch::Contains("routing input layer 3 but the model has 2 blocks"));
}

TEST_CASE("The text workload samples pseudo inputs from the model, prompted with the task's instruction", "[continual][workload][routing]") {
  auto gpt = everlora_test::tiny_gpt(96, 5);
  const Stream stream = routing_test_stream();
  TextWorkload<double> w(gpt, stream);
  Rng rng(2);
  const RoutingInput<double> in = w.generated_routing_input(1, 3, rng, 0);
  CHECK(in.examples() == 3);
  // each pseudo prompt holds at least the instruction, the options and the frame around the input
  const Index frame = static_cast<Index>(encode_prompt(Example{"Name the size.", "", ""}, stream.tasks[1].spec, 96).size());
  for (Index b = 0; b < 3; ++b) {
    double length = 0;
    for (Index s = 0; s < in.mask.dim(1); ++s) length += in.mask[b * in.mask.dim(1) + s];
    CHECK(length >= static_cast<double>(frame));
    CHECK(length <= static_cast<double>(frame + TextWorkload<double>::kPseudoInputBytes));
  }
}

TEST_CASE("SAPT and MoA run end to end on a text stream", "[continual][routing][sapt][moa]") {
  for (const char* method : {"sapt", "moa"}) {
    INFO(method);
    TextWorkload<double> w(everlora_test::tiny_gpt(96, 5), routing_test_stream());
    auto strategy = make_strategy<double>(method, everlora_test::tiny_text_options());
    const ContinualResult result = train_continual(w, *strategy, text_routing_trainer());
    CHECK(result.r.tasks() == 2);
    REQUIRE(w.router() != nullptr);
    const RoutingReport report = measure_example_routing(w, *w.router(), Split::test);
    REQUIRE(report.mean_weight.size() == 2);
    for (const auto& row : report.mean_weight) CHECK(row[0] + row[1] == Approx(1.0));
  }
}

TEST_CASE("The image workload routes on pixels, or on the base model's hidden layer", "[continual][workload][routing]") {
  Rng rng(4);
  auto mlp = std::make_shared<MLPClassifier<double>>(std::vector<Index>{4, 5, 3, 2}, rng);
  const ImageSet set = everlora_test::tiny_image_set();
  ImageWorkload<double> w(mlp, {ImageTask{"t1", set, set, set}, ImageTask{"t2", set, set, set}});
  const RoutingInput<double> pixels = w.routing_input({{0, 1}}, Split::test, 0);
  CHECK(pixels.tokens.shape() == Shape{1, 1, 4});
  CHECK(pixels.tokens[0] == Approx(30.0 / 255));
  std::vector<Tensor<double>> hidden;
  {
    NoGrad no_graph;
    mlp->forward(reshape(pixels.tokens, {1, 4}), &hidden);
  }
  StrategyOptions o;
  o.lora.r = 1;
  o.lora.alpha = 1;
  o.lora.target_modules = {"fc1"};
  o.moa.input_layer = 1;
  o.moa.prompt_buffer = 3;
  o.moa.router_steps = 10;
  Moa<double> moa(o);
  TrainerOptions t;
  t.steps_per_task = 2;
  t.batch_size = 2;
  t.progress = ProgressMode::silent;
  train_continual(w, moa, t);
  // after training the experts are non-zero, yet the router still reads the base model's layer
  const RoutingInput<double> layer1 = w.routing_input({{0, 1}}, Split::test, 1);
  CHECK((layer1.tokens.vec() - hidden[0].vec()).cwiseAbs().maxCoeff() < 1e-15);
  CHECK_THROWS_WITH(w.routing_input({{0, 1}}, Split::test, 4), Catch::Contains("routing input layer 4 but the MLP has 2 hidden layers"));
}
