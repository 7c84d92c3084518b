// The baselines' defining properties (METHODS.md): SeqLoRA trains one expert throughout, IncLoRA
// leaves old experts bit-identical, O-LoRA's and ELLA's penalties equal hand-computed values and
// pass gradient checks, MTL sees every task's data, and on a stream built to make a shared adapter
// forget, SeqLoRA forgets and IncLoRA forgets less.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "everlora/continual.hpp"
#include "support/gradcheck.hpp"
#include "synthetic_workload.hpp"

using namespace everlora;
using everlora_test::quiet_trainer;
using everlora_test::small_lora_options;
using everlora_test::SyntheticWorkload;

namespace {

template <class T>
AdaptedLinear<T>& the_layer(Module<T>& model) {
  auto layers = adapted_layers(model);
  REQUIRE(layers.size() == 1);
  return *layers.front().second;
}

}  // namespace

TEST_CASE("SeqLoRA trains one expert through every task", "[continual][baselines]") {
  SyntheticWorkload<float> w(3, 64, 4, 3, 1);
  SeqLora<float> seq(small_lora_options());
  std::vector<std::vector<float>> b_after_task;
  for (Index t = 0; t < 3; ++t) {
    seq.before_task(w, t);
    auto& layer = the_layer(w.model());
    CHECK(layer.experts().size() == 1);
    CHECK(layer.experts()[0].trainable());
    AdamW<float> opt(w.model().trainable_parameters(), {});
    for (int step = 0; step < 5; ++step) {
      w.loss({{t, 0}, {t, 1}, {t, 2}}).backward();
      opt.step();
      opt.zero_grad();
    }
    b_after_task.push_back(layer.experts()[0].b().to_vector());
  }
  CHECK(b_after_task[1] != b_after_task[0]);  // the same expert moved in every task
  CHECK(b_after_task[2] != b_after_task[1]);
}

TEST_CASE("IncLoRA leaves finished experts bit-identical", "[continual][baselines]") {
  SyntheticWorkload<float> w(3, 64, 4, 3, 2);
  IncLora<float> inc(small_lora_options());
  train_continual(w, inc, quiet_trainer(20));
  auto& bank = the_layer(w.model()).experts();
  REQUIRE(bank.size() == 3);
  CHECK(bank.names() == std::vector<std::string>{"task1", "task2", "task3"});
  CHECK_FALSE(bank[0].trainable());
  CHECK_FALSE(bank[1].trainable());
  CHECK(bank[2].trainable());

  // Replay the run up to task 1, snapshot expert 1, then finish: it must not change.
  SyntheticWorkload<float> again(3, 64, 4, 3, 2);
  IncLora<float> inc2(small_lora_options());
  inc2.before_task(again, 0);
  auto& first = the_layer(again.model()).experts()[0];
  {
    AdamW<float> opt(again.model().trainable_parameters(), {});
    for (int step = 0; step < 10; ++step) {
      again.loss({{0, 0}, {0, 1}, {0, 2}, {0, 3}}).backward();
      opt.step();
      opt.zero_grad();
    }
  }
  const auto a1 = first.a().to_vector(), b1 = first.b().to_vector();
  for (Index t = 1; t < 3; ++t) {
    inc2.before_task(again, t);
    AdamW<float> opt(again.model().trainable_parameters(), {});
    for (int step = 0; step < 10; ++step) {
      again.loss({{t, 0}, {t, 1}, {t, 2}, {t, 3}}).backward();
      opt.step();
      opt.zero_grad();
    }
  }
  CHECK(first.a().to_vector() == a1);
  CHECK(first.b().to_vector() == b1);
}

TEST_CASE("O-LoRA's penalty equals the hand-computed L1 of A_old A_new transposed", "[continual][baselines]") {
  Rng rng(3);
  everlora_test::Classifier<double> model(3, 2, rng);
  StrategyOptions o = small_lora_options();
  add_task_expert<double>(model, o.lora, "task1", 0);
  add_task_expert<double>(model, o.lora, "task2", 1);
  auto& bank = the_layer(model).experts();
  bank[0].a().vec() << 1, 2, 0, -1, 0, 3;   // A_old = [[1, 2, 0], [-1, 0, 3]]
  bank[1].a().vec() << 0.5, -1, 2, 1, 1, 1;  // A_new = [[0.5, -1, 2], [1, 1, 1]]
  // A_old A_newᵀ = [[0.5 - 2, 1 + 2], [-0.5 + 6, -1 + 3]] = [[-1.5, 3], [5.5, 2]] → L1 = 12.
  CHECK(o_lora_penalty(model, "task2").item() == Approx(12.0));
  OLora<double> olora(o);
  const auto& a_new = bank[1].a();
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck([&](const auto&) { return o_lora_penalty(model, "task2"); }, {a_new}));
}

TEST_CASE("ELLA's penalty equals the hand-computed masked Frobenius norm", "[continual][baselines]") {
  Rng rng(4);
  everlora_test::Classifier<double> model(2, 2, rng);
  StrategyOptions o = small_lora_options();
  o.lora.r = 1;
  o.lora.alpha = 1;  // s = 1
  add_task_expert<double>(model, o.lora, "task1", 0);
  add_task_expert<double>(model, o.lora, "task2", 1);
  auto& bank = the_layer(model).experts();
  bank[0].a().vec() << 1, 2;  // ΔW_1 = B_1 A_1 = [1; 3]·[1, 2] = [[1, 2], [3, 6]]
  bank[0].b().vec() << 1, 3;
  bank[1].a().vec() << 1, -1;  // ΔW_2 = [2; 1]·[1, -1] = [[2, -2], [1, -1]]
  bank[1].b().vec() << 2, 1;
  const auto past = ella_past_updates(model, "task2");
  REQUIRE(past.size() == 1);
  CHECK(past[0].to_vector() == std::vector<double>{1, 2, 3, 6});
  // ΔW_2 ⊙ W_past = [[2, -4], [3, -6]] → ‖·‖² = 4 + 16 + 9 + 36 = 65, one layer.
  CHECK(ella_penalty(model, "task2", past).item() == Approx(65.0));
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck([&](const auto&) { return ella_penalty(model, "task2", past); },
                                                   {bank[1].a(), bank[1].b()}));
}

TEST_CASE("MTL trains task t on the union of tasks 1 to t, for t tasks' steps", "[continual][baselines]") {
  SyntheticWorkload<float> w(3, 32, 4, 3, 5);
  Mtl<float> mtl(small_lora_options());
  CHECK(mtl.training_tasks(2) == std::vector<Index>{0, 1, 2});
  const ContinualResult result = train_continual(w, mtl, quiet_trainer(12));
  CHECK(result.steps == 12 * (1 + 2 + 3));  // the union of t tasks gets t budgets
  CHECK(w.seen_tasks == std::set<Index>{0, 1, 2});
  CHECK(the_layer(w.model()).experts().size() == 1);
  // Every union starts from a fresh expert: B = 0 again, not the trained one.
  const auto trained_b = the_layer(w.model()).experts()[0].b().to_vector();
  CHECK(std::any_of(trained_b.begin(), trained_b.end(), [](double v) { return v != 0.0; }));
  mtl.before_task(w, 2);
  REQUIRE(the_layer(w.model()).experts().size() == 1);
  const auto fresh_b = the_layer(w.model()).experts()[0].b().to_vector();
  CHECK(std::all_of(fresh_b.begin(), fresh_b.end(), [](double v) { return v == 0.0; }));
}

TEST_CASE("Replay mixes stored examples of earlier tasks into later ones", "[continual][baselines]") {
  SyntheticWorkload<float> w(2, 32, 4, 3, 6);
  StrategyOptions o = small_lora_options();
  o.replay_capacity = 16;
  {
    SyntheticWorkload<float> fresh(2, 32, 4, 3, 6);
    Replay<float> first_task(o);
    first_task.before_task(fresh, 0);
    first_task.after_step(fresh, {{0, 0}, {0, 1}}, 0);
    CHECK_FALSE(first_task.extra_loss(fresh, {{0, 2}}).defined());  // nothing is replayed in task 1
  }
  Replay<float> replay(o);
  train_continual(w, replay, quiet_trainer(8));
  CHECK(replay.buffer().size() == 16);
  CHECK(replay.buffer().seen() == 2 * 8 * 16);
}

TEST_CASE("On a stream built to interfere, SeqLoRA forgets and IncLoRA forgets less", "[continual][baselines]") {
  // SeqLoRA must overwrite task 1 to learn task 2; IncLoRA adds room per task and keeps the old experts.
  const ClMetrics seq = everlora_test::interfering_stream_metrics("seq_lora");
  const ClMetrics inc = everlora_test::interfering_stream_metrics("inc_lora");
  INFO("SeqLoRA BWT " << seq.bwt << ", IncLoRA BWT " << inc.bwt);
  CHECK(seq.bwt < -20.0);
  CHECK(inc.bwt > seq.bwt + 20.0);
}

TEST_CASE("SeqFT trains every weight of the base and attaches no adapter", "[continual][baselines]") {
  SyntheticWorkload<float> w(2, 64, 4, 3, 5);
  std::map<std::string, std::vector<float>> start;
  for (const auto& [path, p] : w.model().named_parameters()) start[path] = p.to_vector();
  SeqFt<float> full(small_lora_options());
  train_continual(w, full, quiet_trainer(10));
  CHECK(adapted_layers(w.model()).empty());
  CHECK(w.model().num_parameters(true) == w.model().num_parameters());
  for (const auto& [path, p] : w.model().named_parameters()) {
    INFO(path);
    CHECK(p.to_vector() != start.at(path));  // every weight moved
  }
  const std::vector<std::string> by_default = available_methods();  // a reference row: run only when named
  CHECK(std::find(by_default.begin(), by_default.end(), "seq_ft") == by_default.end());
  CHECK(make_strategy<float>("seq_ft", small_lora_options())->name() == "seq_ft");
}

TEST_CASE("The registry builds every available method and names what it cannot", "[continual][registry]") {
  for (const auto& name : available_methods()) CHECK(make_strategy<float>(name, small_lora_options())->name() == name);
  CHECK_THROWS_WITH(make_strategy<float>("lora_magic", small_lora_options()), Catch::Contains("unknown method 'lora_magic'"));
  CHECK_THROWS_WITH(make_strategy<float>("sapt+inc_lora", small_lora_options()), Catch::Contains("do not compose"));
}
