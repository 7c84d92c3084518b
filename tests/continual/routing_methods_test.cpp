// SAPT and MoA as strategies: SAPT on one task is plain LoRA, its reflection targets are
// zero-padded and its KL term equals a hand computation; MoA's router separates separable
// domains, its top-1 inference runs one expert per example (counted), adding a domain keeps the
// older experts bit for bit, and the routing report.
#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>

#include "continual/synthetic_workload.hpp"

using namespace everlora;
using everlora_test::quiet_trainer;
using everlora_test::small_lora_options;
using everlora_test::SyntheticWorkload;

namespace {

/// Every adapted layer's experts' A and B, by parameter path.
std::vector<std::pair<std::string, Tensor<float>>> expert_snapshot(Module<float>& model, const std::string& expert) {
  std::vector<std::pair<std::string, Tensor<float>>> out;
  for (auto& [name, p] : model.named_parameters())
    if (name.find(".experts." + expert + ".") != std::string::npos) out.emplace_back(name, p.clone());
  return out;
}

/// Mean KL(target ‖ softmax(row)) of scores [n, k], computed in double by hand.
double hand_kl(const Tensor<float>& scores, const std::vector<double>& target) {
  const Index n = scores.dim(0), k = scores.dim(1);
  double total = 0;
  for (Index i = 0; i < n; ++i) {
    double top = -1e300, z = 0;
    for (Index e = 0; e < k; ++e) top = std::max(top, static_cast<double>(scores[i * k + e]));
    for (Index e = 0; e < k; ++e) z += std::exp(static_cast<double>(scores[i * k + e]) - top);
    for (Index e = 0; e < k; ++e) {
      const double a = target[static_cast<std::size_t>(e)];
      if (a > 0) total += a * (std::log(a) - (static_cast<double>(scores[i * k + e]) - top - std::log(z)));
    }
  }
  return total / static_cast<double>(n);
}

}  // namespace

TEST_CASE("SAPT on a single task trains exactly what plain LoRA (IncLoRA) trains", "[continual][sapt]") {
  SyntheticWorkload<float> plain_w(1, 64, 4, 3, 5), sapt_w(1, 64, 4, 3, 5);
  auto plain = make_strategy<float>("inc_lora", small_lora_options());
  auto sapt = make_strategy<float>("sapt", small_lora_options());
  const ContinualResult a = train_continual(plain_w, *plain, quiet_trainer(30));
  const ContinualResult b = train_continual(sapt_w, *sapt, quiet_trainer(30));
  CHECK(a.r.at(1, 0) == b.r.at(1, 0));
  const auto pa = expert_snapshot(plain_w.model(), "task1"), pb = expert_snapshot(sapt_w.model(), "task1");
  REQUIRE(pa.size() == 2);
  REQUIRE(pb.size() == 2);
  for (std::size_t i = 0; i < pa.size(); ++i) CHECK(pa[i].second.vec() == pb[i].second.vec());
}

TEST_CASE("SAPT trains the new expert, the new key and the query net, records zero-padded targets and reflects", "[continual][sapt]") {
  SyntheticWorkload<float> w(3, 64, 4, 3, 6);
  StrategyOptions o = small_lora_options();
  o.sapt.pseudo_fraction = 0.1;
  Sapt<float> sapt(o);
  std::vector<std::vector<std::string>> trainable;
  train_continual(w, sapt, quiet_trainer(20), [&](Index) {
    std::vector<std::string> names;
    for (auto& [name, p] : w.model().named_parameters())
      if (p.requires_grad()) names.push_back(name);
    trainable.push_back(names);
  });
  const std::vector<std::string> last = trainable.back();
  CHECK(std::find(last.begin(), last.end(), "router.key3") != last.end());
  CHECK(std::find(last.begin(), last.end(), "router.key2") == last.end());
  CHECK(std::find(last.begin(), last.end(), "router.down.weight") != last.end());
  CHECK(std::find(last.begin(), last.end(), "proj.experts.task3.lora_A") != last.end());
  CHECK(std::find(last.begin(), last.end(), "proj.experts.task2.lora_A") == last.end());

  REQUIRE(sapt.targets().size() == 3);
  for (std::size_t j = 0; j < 3; ++j) {
    CHECK(sapt.targets()[j].size() == j + 1);
    CHECK(std::accumulate(sapt.targets()[j].begin(), sapt.targets()[j].end(), 0.0) == Approx(1.0));
    CHECK(sapt.pseudo_summaries()[j].dim(0) == 6);  // 10% of 64, rounded
  }
  CHECK(sapt.targets()[0] == std::vector<double>{1.0});
  CHECK(padded_reflection_target({0.25, 0.75}, 4) == std::vector<double>{0.25, 0.75, 0.0, 0.0});
  CHECK_THROWS_WITH(padded_reflection_target({0.5, 0.5}, 1), Catch::Contains("cannot be padded"));

  // the reflection term against a hand computation with the current (three) keys
  double expected = 0;
  for (std::size_t j = 0; j < 3; ++j) {
    NoGrad no_graph;
    expected += hand_kl(sapt.router()->scores(sapt.pseudo_summaries()[j]), padded_reflection_target(sapt.targets()[j], 3));
  }
  CHECK(static_cast<double>(sapt.reflection_loss().item()) == Approx(expected).epsilon(1e-5));
  CHECK(expected > 0);
}

TEST_CASE("reflection_kl equals the KL divergence and its gradient in double", "[continual][sapt][gradcheck]") {
  Rng rng(3);
  Tensor<double> scores = Tensor<double>::normal({4, 3}, rng, 0, 1);
  scores.requires_grad_();
  const std::vector<double> target{0.2, 0.8, 0.0};
  double expected = 0;
  for (Index i = 0; i < 4; ++i) {
    double z = 0;
    for (Index e = 0; e < 3; ++e) z += std::exp(scores[i * 3 + e]);
    for (Index e = 0; e < 2; ++e) expected += target[static_cast<std::size_t>(e)] * std::log(target[static_cast<std::size_t>(e)] / (std::exp(scores[i * 3 + e]) / z)) / 4;
  }
  CHECK(reflection_kl(scores, target).item() == Approx(expected).epsilon(1e-12));
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck([&](const std::vector<Tensor<double>>& in) { return reflection_kl(in[0], target); }, {scores}));
  CHECK_THROWS_WITH(reflection_kl(scores, {0.5, 0.5}), Catch::Contains("against a target over 2 keys"));
}

TEST_CASE("SAPT's attentive reflection holds old tasks' routing closer to their targets", "[continual][sapt]") {
  auto drift = [](double lambda) {
    SyntheticWorkload<float> w(3, 64, 4, 3, 8, 2.0f);
    StrategyOptions o = small_lora_options();
    o.sapt.reflection = lambda;
    o.sapt.pseudo_fraction = 0.25;
    Sapt<float> sapt(o);
    train_continual(w, sapt, quiet_trainer(60));
    NoGrad no_graph;
    return static_cast<double>(sapt.reflection_loss().item());
  };
  const double free = drift(0.0), reflected = drift(5.0);
  INFO("KL to the targets after the stream: λ = 0 " << free << ", λ = 5 " << reflected);
  CHECK(reflected < 0.5 * free);
}

TEST_CASE("MoA's router separates separable domains and top-1 runs one expert per example", "[continual][moa]") {
  SyntheticWorkload<float> w(3, 64, 4, 3, 7, 2.0f);  // separable: each domain's features have mean 2
  StrategyOptions o = small_lora_options();
  o.moa.prompt_buffer = 32;
  Moa<float> moa(o);
  std::vector<std::vector<std::pair<std::string, Tensor<float>>>> after_task;
  const ContinualResult result = train_continual(w, moa, quiet_trainer(30), [&](Index t) {
    after_task.push_back(expert_snapshot(w.model(), task_expert_name(t)));
  });
  CHECK(moa.fit_accuracy() == 100.0);
  const RoutingReport report = measure_example_routing(w, *moa.router(), everlora::Split::test);
  for (std::size_t t = 0; t < 3; ++t) {
    INFO("task " << t + 1);
    CHECK(report.own_expert[t] >= 95.0);
    CHECK(report.mean_weight[t][t] >= 0.95);
  }
  // adding domains 2 and 3 left expert 1 (and 2) bit for bit as they were
  for (Index t = 0; t < 2; ++t) {
    const auto now = expert_snapshot(w.model(), task_expert_name(t));
    REQUIRE(now.size() == after_task[static_cast<std::size_t>(t)].size());
    for (std::size_t i = 0; i < now.size(); ++i) CHECK(now[i].second.vec() == after_task[static_cast<std::size_t>(t)][i].second.vec());
  }
  // top-1: scoring 64 examples runs 64 expert rows in all, not 3 × 64
  auto layers = adapted_layers(w.model());
  REQUIRE(layers.size() == 1);
  layers[0].second->reset_expert_rows();
  w.score(1, everlora::Split::test);
  const auto& rows = layers[0].second->expert_rows();
  CHECK(std::accumulate(rows.begin(), rows.end(), Index(0)) == 64);
  CHECK(result.r.at(3, 0) > 60.0);
}

TEST_CASE("MoA trains each domain's expert alone: the older experts do not run while it trains", "[continual][moa]") {
  SyntheticWorkload<float> w(2, 32, 4, 3, 3);
  Moa<float> moa(small_lora_options());
  moa.before_task(w, 0);
  moa.after_task(w, 0);
  moa.before_task(w, 1);
  auto layers = adapted_layers(w.model());
  layers[0].second->reset_expert_rows();
  w.loss({{1, 0}, {1, 1}, {0, 2}}).backward();
  CHECK(layers[0].second->expert_rows() == std::vector<Index>{0, 3});
  CHECK_FALSE(moa.router()->classifier_parameters().front().requires_grad());
}

TEST_CASE("SAPT and MoA name their bad knobs", "[continual][sapt][moa][errors]") {
  StrategyOptions o = small_lora_options();
  o.sapt.reflection = -1;
  CHECK_THROWS_WITH(Sapt<float>(o), Catch::Contains("reflection weight must be >= 0"));
  o = small_lora_options();
  o.moa.top_k = 0;
  CHECK_THROWS_WITH(Moa<float>(o), Catch::Contains("top_k must be at least 1"));
  o = small_lora_options();
  o.moa.input_layer = 2;
  SyntheticWorkload<float> w(2, 16, 4, 3, 3);
  Moa<float> moa(o);
  CHECK_THROWS_WITH(moa.before_task(w, 0), Catch::Contains("no hidden layer to route on"));
  o = small_lora_options();
  o.sapt.pseudo = SaptConfig::Pseudo::generated;
  Sapt<float> sapt(o);
  CHECK_THROWS_WITH(train_continual(w, sapt, quiet_trainer(2)), Catch::Contains("cannot generate pseudo inputs"));
}

TEST_CASE("On separable tasks SAPT learns to route each task's inputs to its own expert", "[continual][sapt]") {
  SyntheticWorkload<float> w(3, 96, 4, 4, 9, 2.0f);
  StrategyOptions o = small_lora_options();
  o.lora.r = 1;  // the interfering stream's rank-1 experts (synthetic_workload.hpp)
  o.lora.alpha = 2;
  Sapt<float> sapt(o);
  const ClMetrics m = compute_metrics(train_continual(w, sapt, quiet_trainer(100)).r);
  const RoutingReport routing = measure_example_routing(w, *sapt.router(), everlora::Split::test);
  INFO("BWT " << m.bwt << ", own expert " << routing.own_expert[0] << " / " << routing.own_expert[1] << " / " << routing.own_expert[2]);
  for (double own : routing.own_expert) CHECK(own > 90.0);
  for (std::size_t t = 0; t < 3; ++t) CHECK(routing.mean_weight[t][t] > 0.6);
  CHECK(m.bwt > -5.0);
}
