// JumpLoRA (METHODS.md): the dense → sparse schedule, the budget-matched reset inside a run, the
// merge at task end equal to the unmerged model, and the compositions with ELLA and AM-LoRA.
#include <catch2/catch.hpp>

#include "everlora/continual.hpp"
#include "synthetic_workload.hpp"

using namespace everlora;
using everlora_test::quiet_trainer;
using everlora_test::SyntheticWorkload;

namespace {

StrategyOptions jump_options() {
  StrategyOptions o = everlora_test::small_lora_options(13);
  o.mixer.attention_dim = 4;
  o.ella_lambda = 1.0;
  return o;
}

}  // namespace

TEST_CASE("JumpLoRA's schedule is dense to 20%, linear to 80%, then fully gated", "[continual][jump_lora]") {
  CHECK(jump_schedule(0, 100) == 0.0);
  CHECK(jump_schedule(20, 100) == 0.0);
  CHECK(jump_schedule(50, 100) == Approx(0.5));
  CHECK(jump_schedule(80, 100) == Approx(1.0));
  CHECK(jump_schedule(99, 100) == 1.0);
}

TEST_CASE("At 20% of a task JumpLoRA keeps exactly r times (in + out) entries per layer", "[continual][jump_lora]") {
  SyntheticWorkload<float> w(2, 32, 4, 3, 7);  // the layer is 8 → 3: budget 2·(8 + 3) = 22 of 24
  auto jump = make_strategy<float>("jump_lora", jump_options());
  jump->before_task(w, 0);
  jump->before_steps(w, 0, 10);
  auto& layer = *adapted_layers(w.model()).front().second;
  auto& expert = layer.experts().get("task1");
  Rng rng(2);
  expert.b().vec() = Tensor<float>::normal(expert.b().shape(), rng, 0, 1).vec();
  auto& threshold = dynamic_cast<JumpReLU<float>&>(layer.gate()).threshold("task1");
  jump->after_step(w, {}, 0);  // the next step is 1 of 10: still dense, no reset yet
  CHECK(threshold.mix == 0.0f);
  CHECK(threshold.log_threshold()[0] == Approx(-4.7));
  jump->after_step(w, {}, 1);  // the next step is 2 = 20%: reset
  const Tensor<float> delta = matmul(expert.b(), expert.a());
  Index kept = 0;
  for (Index i = 0; i < delta.numel(); ++i) kept += std::abs(delta[i]) > threshold.threshold() ? 1 : 0;
  CHECK(kept == 22);
  jump->after_step(w, {}, 4);  // next step 5 of 10: a = (0.5 − 0.2) / 0.6
  CHECK(threshold.mix == Approx(0.5f));
}

TEST_CASE("Merged JumpLoRA computes what the unmerged model computes", "[continual][jump_lora]") {
  // The same run twice; one merges its finished experts into W0, the other keeps them gated.
  auto run = [](bool merge) {
    auto w = std::make_unique<SyntheticWorkload<double>>(2, 48, 4, 3, 8);
    JumpLora<double> jump(std::make_unique<IncLora<double>>(jump_options()), jump_options(), merge);
    train_continual(*w, jump, quiet_trainer(30));
    const auto density = jump.masks().density(1, 0);
    return std::make_pair(std::move(w), density);
  };
  auto [merged, merged_density] = run(true);
  auto [kept, kept_density] = run(false);
  CHECK(adapted_layers(merged->model()).front().second->experts().size() == 0);
  CHECK(adapted_layers(kept->model()).front().second->experts().size() == 2);
  CHECK(merged_density == kept_density);
  CHECK(merged_density > 0.0);
  for (Index t = 0; t < 2; ++t) CHECK(merged->score(t, Split::test) == kept->score(t, Split::test));
  Rng rng(3);
  const Tensor<double> x = Tensor<double>::normal({5, 8}, rng, 0, 1);
  NoGrad no_graph;
  auto& a = dynamic_cast<everlora_test::Classifier<double>&>(merged->model());
  auto& b = dynamic_cast<everlora_test::Classifier<double>&>(kept->model());
  const Tensor<double> ya = a.forward(x), yb = b.forward(x);
  for (Index i = 0; i < ya.numel(); ++i) CHECK(ya[i] == Approx(yb[i]).margin(1e-9));
}

TEST_CASE("JumpLoRA composes with ELLA and under the AM-LoRA mixer", "[continual][jump_lora]") {
  for (const std::string name : {"jump_lora+ella", "jump_lora+am_lora"}) {
    INFO(name);
    SyntheticWorkload<float> w(3, 64, 4, 3, 9);
    auto strategy = make_strategy<float>(name, jump_options());
    CHECK(strategy->name() == name);
    const ContinualResult result = train_continual(w, *strategy, quiet_trainer(40));
    for (Index t = 0; t < 3; ++t) CHECK(result.r.has(3, t));
    auto& layer = *adapted_layers(w.model()).front().second;
    CHECK(layer.experts().size() == 3);  // kept as frozen sparse experts
    CHECK_FALSE(layer.experts()[0].a().requires_grad());
    auto& gate = dynamic_cast<JumpReLU<float>&>(layer.gate());
    CHECK_FALSE(gate.threshold("task1").log_threshold().requires_grad());
    CHECK(gate.threshold("task3").mix == 1.0f);
    const auto& masks = dynamic_cast<JumpLora<float>&>(*strategy).masks();
    REQUIRE(masks.kept.size() == 3);
    CHECK(masks.overlap(0, 0) == Approx(1.0));
    CHECK(masks.density(2, 0) > 0.0);
    CHECK(result.r.at(3, 2) > 50.0);  // the last task is learnt through the gate
  }
  CHECK_THROWS_WITH(make_strategy<float>("jump_lora+replay", jump_options()), Catch::Contains("do not compose"));
}
