// The continual trainer: R's rows (before training, then after each task), the budget, the
// batch order's determinism, and clear errors for bad options.
#include <catch2/catch.hpp>

#include "everlora/continual.hpp"
#include "synthetic_workload.hpp"

using namespace everlora;
using everlora_test::quiet_trainer;
using everlora_test::small_lora_options;
using everlora_test::SyntheticWorkload;

TEST_CASE("The trainer fills R from the untrained base to the last task", "[continual][trainer]") {
  SyntheticWorkload<float> w(3, 64, 4, 3, 1);
  std::vector<double> before;
  for (Index j = 0; j < 3; ++j) before.push_back(w.score(j, Split::test));
  IncLora<float> inc(small_lora_options(0));
  const ContinualResult result = train_continual(w, inc, quiet_trainer(40));
  REQUIRE(result.r.tasks() == 3);
  for (Index j = 0; j < 3; ++j) CHECK(result.r.at(0, j) == before[static_cast<std::size_t>(j)]);  // zero-shot row
  for (Index i = 0; i <= 3; ++i)
    for (Index j = 0; j < 3; ++j) CHECK(result.r.has(i, j));
  for (Index t = 0; t < 3; ++t) CHECK(result.r.at(t + 1, t) > result.r.at(0, t) + 20.0);  // each task was learnt
  CHECK(result.final_loss.size() == 3);
  CHECK(result.train_seconds > 0.0);
}

TEST_CASE("The same seed gives the same run, another seed another batch order", "[continual][trainer]") {
  auto run = [](std::uint64_t seed) {
    SyntheticWorkload<float> w(2, 64, 4, 3, 1);
    SeqLora<float> seq(small_lora_options(0));
    TrainerOptions t = quiet_trainer(10);
    t.seed = seed;
    train_continual(w, seq, t);
    return adapted_layers(w.model()).front().second->experts()[0].b().to_vector();
  };
  CHECK(run(5) == run(5));
  CHECK(run(5) != run(6));
}

TEST_CASE("Epoch budgets cover each task's examples", "[continual][trainer]") {
  SyntheticWorkload<float> w(2, 40, 4, 3, 2);
  Replay<float> replay(small_lora_options(0));
  TrainerOptions t = quiet_trainer(0);
  t.epochs = 2;
  t.batch_size = 16;  // ceil(40 / 16) = 3 steps an epoch, 6 a task
  train_continual(w, replay, t);
  CHECK(replay.buffer().seen() == 2 * 6 * 16);
}

TEST_CASE("Bad trainer options name the field", "[continual][trainer]") {
  SyntheticWorkload<float> w(2, 16, 4, 3, 3);
  SeqLora<float> seq(small_lora_options(0));
  TrainerOptions t = quiet_trainer(5);
  t.batch_size = 0;
  CHECK_THROWS_WITH(train_continual(w, seq, t), Catch::Contains("batch_size"));
  t = quiet_trainer(5);
  t.lr = -1;
  CHECK_THROWS_WITH(train_continual(w, seq, t), Catch::Contains("lr"));
}
