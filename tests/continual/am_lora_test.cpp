// AM-LoRA (METHODS.md): a new expert per task under one mixer per layer carried across tasks, old
// experts frozen, the L1 penalty equal to its formula, and L1 driving sigmoid gates to sparsity.
#include <catch2/catch.hpp>

#include "everlora/continual.hpp"
#include "synthetic_workload.hpp"

using namespace everlora;
using everlora_test::quiet_trainer;
using everlora_test::SyntheticWorkload;

namespace {

StrategyOptions am_lora_options(double l1) {
  StrategyOptions o = everlora_test::small_lora_options();
  o.am_l1_lambda = l1;
  o.mixer.attention_dim = 4;
  return o;
}

}  // namespace

TEST_CASE("AM-LoRA adds an expert per task under one mixer and freezes the old experts", "[continual][am_lora]") {
  struct Recorder : AmLora<float> {
    using AmLora<float>::AmLora;
    void after_task(Workload<float>& w, Index t) override {
      AmLora<float>::after_task(w, t);
      const auto mixers = attention_mixers(w.model());
      REQUIRE(mixers.size() == 1);
      seen.push_back(mixers.front().second);
    }
    std::vector<const AttentionMixer<float>*> seen;
  };
  SyntheticWorkload<float> w(3, 64, 4, 3, 5);
  Recorder am(am_lora_options(0.01));
  train_continual(w, am, quiet_trainer(20));
  auto& layer = *adapted_layers(w.model()).front().second;
  CHECK(layer.experts().names() == std::vector<std::string>{"task1", "task2", "task3"});
  REQUIRE(am.seen.size() == 3);
  CHECK(am.seen[0] == am.seen[1]);  // the same mixer throughout
  CHECK(am.seen[1] == am.seen[2]);
  AttentionMixer<float>* mixer = attention_mixers(w.model()).front().second;
  CHECK(mixer->wq().requires_grad());
  CHECK_FALSE(layer.experts()[0].a().requires_grad());
  CHECK_FALSE(layer.experts()[1].b().requires_grad());
  CHECK(layer.experts()[2].b().requires_grad());
}

TEST_CASE("AM-LoRA's penalty is lambda times the layer mean of the token mean of the gate L1 norm", "[continual][am_lora]") {
  SyntheticWorkload<double> w(2, 32, 3, 3, 6);
  AmLora<double> am(am_lora_options(0.3));
  am.before_task(w, 0);
  am.before_task(w, 1);
  const Tensor<double> loss = w.loss({{0, 0}, {0, 1}, {1, 2}});
  (void)loss;
  const Tensor<double>& g = attention_mixers(w.model()).front().second->last_gates();
  REQUIRE(g.shape() == Shape{3, 2});
  double l1 = 0;
  for (Index i = 0; i < g.numel(); ++i) l1 += std::abs(g[i]);
  CHECK(am.extra_loss(w, {}).item() == Approx(0.3 * l1 / 3.0));
  AmLora<double> no_l1(am_lora_options(0.0));
  CHECK_FALSE(no_l1.extra_loss(w, {}).defined());
}

TEST_CASE("L1 drives AM-LoRA's sigmoid gates to sparsity as lambda grows", "[continual][am_lora]") {
  struct Gates {
    double sparsity, mean;
  };
  auto gates = [](double l1) {
    SyntheticWorkload<float> w(3, 96, 4, 3, 9);
    AmLora<float> am(am_lora_options(l1));
    train_continual(w, am, quiet_trainer(60));
    AttentionMixer<float>* mixer = attention_mixers(w.model()).front().second;
    mixer->reset_stats();
    for (Index t = 0; t < 3; ++t) w.score(t, Split::test);
    const auto& stats = mixer->stats();
    return Gates{stats.sparsity(), (stats.mean_gate(0) + stats.mean_gate(1) + stats.mean_gate(2)) / 3};
  };
  const Gates none = gates(0.0), some = gates(1.0), strong = gates(10.0);
  INFO("share of gates below 0.01 at lambda 0, 1, 10: " << none.sparsity << ", " << some.sparsity << ", " << strong.sparsity);
  INFO("mean gate: " << none.mean << ", " << some.mean << ", " << strong.mean);
  CHECK(some.sparsity > none.sparsity + 0.05);
  CHECK(strong.sparsity > some.sparsity + 0.1);
  CHECK(strong.sparsity > 0.4);
  CHECK(some.mean < none.mean);
  CHECK(strong.mean < some.mean);
}
