// I-LoRA (METHODS.md): the slow learner's EMA against its closed form, no gradient into it, λ = 0
// making it the fast learner, the reservoir's contents against the rule, the consistency term and
// the whole objective against finite differences, scoring with the slow learner beside the fast
// one, and the connectivity probe's endpoints against the checkpoints' own scores.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "everlora/continual.hpp"
#include "support/gradcheck.hpp"
#include "synthetic_workload.hpp"

using namespace everlora;
using everlora_test::quiet_trainer;
using everlora_test::small_lora_options;
using everlora_test::SyntheticWorkload;

namespace {

class OneParameter : public Module<double> {
 public:
  OneParameter() {
    register_parameter("w", w_, Tensor<double>::zeros({3}));
    register_parameter("frozen", frozen_, Tensor<double>::full({2}, 5.0));
    frozen_.requires_grad_(false);
  }
  const char* type_name() const override { return "OneParameter"; }
  Tensor<double>& w() { return w_; }
  Tensor<double>& frozen() { return frozen_; }

 private:
  Tensor<double> w_, frozen_;
};

StrategyOptions i_lora_options(double decay) {
  StrategyOptions o = small_lora_options();
  o.i_lora.decay = decay;
  return o;
}

/// The parameters of the shared expert of the synthetic classifier.
Tensor<double> shared_a(SyntheticWorkload<double>& w) { return adapted_layers(w.model()).front().second->experts().get("shared").a(); }
Tensor<double> shared_b(SyntheticWorkload<double>& w) { return adapted_layers(w.model()).front().second->experts().get("shared").b(); }

}  // namespace

TEST_CASE("The slow weights follow the closed form of the EMA and frozen ones stay put", "[continual][i_lora]") {
  OneParameter m;
  m.frozen().requires_grad_(true);
  SlowWeights<double> slow(0.8);
  slow.follow(m);  // slow_0 = fast_0 = 0 for w, 5 for frozen
  m.frozen().requires_grad_(false);
  const std::vector<std::vector<double>> fast = {{1, -2, 3}, {0.5, 0, -1}, {4, 4, 4}, {-3, 1, 0.25}};
  for (const auto& f : fast) {
    for (Index i = 0; i < 3; ++i) m.w()[i] = f[static_cast<std::size_t>(i)];
    m.frozen()[0] = 100;  // moves, but does not train: its slow copy must not follow
    slow.update();
  }
  // slow_k = λ^k·slow_0 + (1 − λ)·Σ_i λ^(k−i)·fast_i
  const double lambda = 0.8;
  const std::size_t k = fast.size();
  for (Index j = 0; j < 3; ++j) {
    double expected = 0;
    for (std::size_t i = 0; i < k; ++i)
      expected += (1 - lambda) * std::pow(lambda, static_cast<double>(k - 1 - i)) * fast[i][static_cast<std::size_t>(j)];
    CHECK(slow.slow("w")[j] == Approx(expected).epsilon(1e-14));
  }
  CHECK(slow.slow("frozen")[0] == 5.0);
  slow.settle();  // the frozen parameter takes its slow value; the training one is left alone
  CHECK(m.frozen()[0] == 5.0);
  CHECK(m.w()[0] == -3.0);
  CHECK_THROWS_WITH(slow.slow("nothing"), Catch::Contains("'nothing' is not followed"));
  CHECK_THROWS_WITH(SlowWeights<double>(1.5), Catch::Contains("decay 1.5"));

  // swap() exchanges exactly, twice is the identity, and update refuses while swapped
  slow.swap();
  CHECK(m.w()[0] == Approx(slow.slow("w")[0]));
  CHECK_THROWS_WITH(slow.update(), Catch::Contains("swapped"));
  slow.swap();
  CHECK(m.w()[0] == -3.0);
}

TEST_CASE("I-LoRA's slow learner gets no gradient and equals the fast one at lambda 0", "[continual][i_lora]") {
  SyntheticWorkload<double> w(2, 48, 3, 3, 21);
  ILora<double> i_lora(std::make_unique<SeqLora<double>>(i_lora_options(0.0)), i_lora_options(0.0));
  const ContinualResult result = train_continual(w, i_lora, quiet_trainer(12));
  const auto names = i_lora.slow().names();
  REQUIRE(names.size() == 2);  // lora_A and lora_B of the one shared expert
  for (const auto& [name, p] : w.model().named_parameters()) {
    if (name.find(".experts.") == std::string::npos) continue;
    const Tensor<double>& slow = i_lora.slow().slow(name);
    CHECK_FALSE(slow.has_grad());
    CHECK_FALSE(slow.requires_grad());
    CHECK(slow.data() != p.data());
    for (Index i = 0; i < p.numel(); ++i) CHECK(slow[i] == p[i]);  // λ = 0: slow ← fast exactly
  }
  // With slow = fast, the two views score the same.
  REQUIRE(result.views.size() == 1);
  CHECK(result.views.front().first == "fast learner");
  CHECK(result.views.front().second.rows() == result.r.rows());
}

TEST_CASE("I-LoRA scores the slow learner and reports the fast one beside it", "[continual][i_lora]") {
  SyntheticWorkload<double> w(2, 48, 3, 3, 22);
  ILora<double> i_lora(std::make_unique<SeqLora<double>>(i_lora_options(0.9)), i_lora_options(0.9));
  const ContinualResult result = train_continual(w, i_lora, quiet_trainer(15));
  const AccuracyMatrix& fast = result.views.front().second;
  CHECK(fast.rows()[0] == result.r.rows()[0]);  // before training both are the base
  // After training the model holds the fast values; its score is the fast view's last row.
  CHECK(w.score(1, Split::test) == fast.rows()[2][1]);
  i_lora.begin_scoring(w, "");
  CHECK(w.score(1, Split::test) == result.r.rows()[2][1]);
  i_lora.end_scoring(w);
  CHECK_THROWS_WITH(i_lora.begin_scoring(w, "medium"), Catch::Contains("no view 'medium'"));
  // λ = 0.9 over 15 steps: the slow learner lags, the two A's differ.
  const Tensor<double> a = shared_a(w);
  const std::string a_name = i_lora.slow().names().front();
  double gap = 0;
  for (Index i = 0; i < a.numel(); ++i) gap += std::abs(a[i] - i_lora.slow().slow(a_name)[i]);
  CHECK(gap > 1e-3);
}

TEST_CASE("I-LoRA's reservoir holds what the reservoir rule says after a fixed-seed stream", "[continual][i_lora]") {
  // Every trained batch is offered once, after its step; from task 2 on each step first samples a
  // replay batch. An independent Algorithm R over the same generator must end with the same items.
  class Recorder : public ILora<double> {
   public:
    using ILora<double>::ILora;
    void after_step(Workload<double>& w, const std::vector<ExampleRef>& batch, long step) override {
      offered.push_back(batch);
      ILora<double>::after_step(w, batch, step);
    }
    std::vector<std::vector<ExampleRef>> offered;
  };
  StrategyOptions o = i_lora_options(0.99);
  o.replay_capacity = 20;
  o.seed = 77;
  SyntheticWorkload<double> w(3, 40, 3, 3, 23);
  Recorder i_lora(std::make_unique<SeqLora<double>>(o), o);
  TrainerOptions trainer = quiet_trainer(6);
  trainer.batch_size = 8;
  train_continual(w, i_lora, trainer);
  REQUIRE(i_lora.offered.size() == 18);

  Rng rng(77);
  std::vector<ExampleRef> items;
  long seen = 0;
  for (std::size_t s = 0; s < i_lora.offered.size(); ++s) {
    if (s >= 6)  // tasks 2 and 3 sample 8 of the buffered items first (a partial Fisher–Yates)
      for (std::size_t i = 0; i < std::min<std::size_t>(8, items.size()); ++i) rng.below(items.size() - i);
    for (const ExampleRef& e : i_lora.offered[s]) {
      ++seen;
      if (items.size() < 20) {
        items.push_back(e);
      } else {
        const auto slot = rng.below(static_cast<std::uint64_t>(seen));
        if (slot < 20) items[slot] = e;
      }
    }
  }
  CHECK(i_lora.buffer().seen() == seen);
  CHECK(i_lora.buffer().items() == items);
  Index from_task1 = 0;
  for (const auto& e : items) from_task1 += e.task == 0 ? 1 : 0;
  CHECK(from_task1 > 0);  // the first task is still represented at the end
}

TEST_CASE("The consistency term equals its formula and passes a gradient check", "[continual][i_lora]") {
  Rng rng(5);
  BlockFeatures<double> fast{{Tensor<double>::normal({4, 3}, rng, 0.0, 1.0), Tensor<double>::normal({4, 2}, rng, 0.0, 1.0)}, 3};
  // Row 3 is padding: zero in both, so it adds nothing, and rows = 3 counts the real ones.
  for (auto& h : fast.blocks)
    for (Index c = 0; c < h.dim(1); ++c) h[3 * h.dim(1) + c] = 0;
  BlockFeatures<double> target{{Tensor<double>::normal({4, 3}, rng, 0.0, 1.0), Tensor<double>::normal({4, 2}, rng, 0.0, 1.0)}, 3};
  for (auto& h : target.blocks)
    for (Index c = 0; c < h.dim(1); ++c) h[3 * h.dim(1) + c] = 0;
  double expected = 0;
  for (std::size_t l = 0; l < 2; ++l) {
    double sq = 0;
    for (Index i = 0; i < fast.blocks[l].numel(); ++i) sq += std::pow(fast.blocks[l][i] - target.blocks[l][i], 2);
    expected += sq / (3.0 * static_cast<double>(fast.blocks[l].dim(1))) / 2.0;
  }
  CHECK(consistency_loss(fast, target).item() == Approx(expected).epsilon(1e-14));

  const auto report = everlora_test::gradcheck(
      [&](const std::vector<Tensor<double>>& in) { return consistency_loss(BlockFeatures<double>{in, 3}, target); },
      {fast.blocks[0].requires_grad_(true), fast.blocks[1].requires_grad_(true)});
  INFO(report.summary());
  CHECK(report.passed());

  const BlockFeatures<double> max = max_target(fast, target);
  for (Index i = 0; i < 12; ++i) CHECK(max.blocks[0][i] == std::max(fast.blocks[0][i], target.blocks[0][i]));
  // CLS-ER's target only pulls entries up where the slow learner is larger: never a larger term.
  CHECK(consistency_loss(fast, max).item() < consistency_loss(fast, target).item());
  CHECK_THROWS_WITH(consistency_loss(fast, BlockFeatures<double>{{target.blocks[0]}, 3}), Catch::Contains("2 fast blocks"));
}

TEST_CASE("I-LoRA's whole objective passes a gradient check from the second task on", "[continual][i_lora]") {
  StrategyOptions o = i_lora_options(0.5);
  o.replay_capacity = 4;  // a replay batch of 6 takes all 4, so every evaluation sees the same examples
  o.i_lora.consistency = 3.0;
  SyntheticWorkload<double> w(2, 32, 3, 3, 24);
  ILora<double> i_lora(std::make_unique<SeqLora<double>>(o), o);
  i_lora.before_task(w, 0);
  Tensor<double> a = shared_a(w), b = shared_b(w);
  Rng rng(9);
  b.vec() = Tensor<double>::normal(b.shape(), rng, 0.0, 0.5).vec();
  i_lora.after_step(w, {{0, 0}, {0, 1}, {0, 2}, {0, 3}}, 0);
  i_lora.before_task(w, 1);
  b.vec() *= -0.7;  // fast and slow differ
  a.vec() *= 1.3;
  const std::vector<ExampleRef> batch{{1, 0}, {1, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 5}};
  const auto report = everlora_test::gradcheck(
      [&](const std::vector<Tensor<double>>&) { return i_lora.training_loss(w, batch); }, {a, b});
  INFO(report.summary());
  CHECK(report.passed(1e-6));

  // The objective is (CE(batch) + CE(replay)) / 2 + γ · consistency, term by term.
  BlockFeatures<double> fast, slow;
  const double current = w.loss(batch).item();
  const std::vector<ExampleRef> replay = {{0, 0}, {0, 1}, {0, 2}, {0, 3}};
  const double replayed = w.loss_with_features(replay, fast).item();
  {
    NoGrad no_graph;
    Tensor<double> fast_a = a.clone(), fast_b = b.clone();
    a.vec() = i_lora.slow().slow(i_lora.slow().names()[0]).vec();
    b.vec() = i_lora.slow().slow(i_lora.slow().names()[1]).vec();
    w.loss_with_features(replay, slow);
    a.vec() = fast_a.vec();
    b.vec() = fast_b.vec();
  }
  const double expected = (current + replayed) / 2 + 3.0 * consistency_loss(fast, slow).item();
  CHECK(i_lora.training_loss(w, batch).item() == Approx(expected).epsilon(1e-12));
}

TEST_CASE("I-LoRA with replay forgets less than SeqLoRA on a stream built to interfere", "[continual][i_lora]") {
  const ClMetrics seq = everlora_test::interfering_stream_metrics("seq_lora");
  const ClMetrics i_lora = everlora_test::interfering_stream_metrics("i_lora", [](StrategyOptions& o) { o.i_lora.decay = 0.9; });
  INFO("SeqLoRA BWT " << seq.bwt << ", I-LoRA BWT " << i_lora.bwt);
  CHECK(i_lora.bwt > seq.bwt + 10.0);
}

TEST_CASE("I-LoRA composes with IncLoRA and AM-LoRA and refuses JumpLoRA", "[continual][i_lora][registry]") {
  for (const std::string name : {"i_lora+inc_lora", "i_lora+am_lora", "i_lora+ella"}) {
    SyntheticWorkload<float> w(2, 32, 3, 3, 25);
    StrategyOptions o = small_lora_options();
    o.mixer.attention_dim = 4;
    auto strategy = make_strategy<float>(name, o);
    CHECK(strategy->name() == name);
    const ContinualResult result = train_continual(w, *strategy, quiet_trainer(8));
    CHECK(std::isfinite(compute_metrics(result.r).aa));
    const auto& slow = dynamic_cast<ILora<float>&>(*strategy).slow();
    // Every parameter that trained has a slow copy: both experts for IncLoRA, plus the mixer for AM-LoRA.
    CHECK(slow.names().size() >= 4);
    // The finished expert settled on its slow values: both learners share it.
    const Tensor<float>& a1 = adapted_layers(w.model()).front().second->experts().get("task1").a();
    const Tensor<float>& slow_a1 = slow.slow("proj.experts.task1.lora_A");
    for (Index i = 0; i < a1.numel(); ++i) CHECK(a1[i] == slow_a1[i]);
  }
  CHECK_THROWS_WITH(make_strategy<float>("i_lora+jump_lora", small_lora_options()), Catch::Contains("do not compose"));
  CHECK_THROWS_WITH(make_strategy<float>("i_lora+replay", small_lora_options()), Catch::Contains("do not compose"));
}

TEST_CASE("The connectivity probe's endpoints are the checkpoints' own scores", "[continual][i_lora][connectivity]") {
  SyntheticWorkload<double> w(2, 48, 3, 3, 26);
  auto strategy = make_strategy<double>("seq_lora", small_lora_options());
  std::vector<ParameterState<double>> states;
  const ContinualResult result = train_continual(w, *strategy, quiet_trainer(20),
                                                 [&](Index) { states.push_back(capture_adapted_state(w.model())); });
  REQUIRE(states.size() == 2);
  const ParameterState<double> before = capture_adapted_state(w.model());
  ConnectivityOptions o;
  o.points = 5;
  for (Interpolation mode : {Interpolation::ab, Interpolation::delta_w}) {
    const auto curve = connectivity_probe(w, states[0], states[1], 0, 1, mode, o);
    REQUIRE(curve.size() == 5);
    CHECK(curve.front().alpha == 0.0);
    CHECK(curve.back().alpha == 1.0);
    CHECK(curve.front().score_from == result.r.rows()[1][0]);
    CHECK(curve.front().score_to == result.r.rows()[1][1]);
    CHECK(curve.back().score_from == result.r.rows()[2][0]);
    CHECK(curve.back().score_to == result.r.rows()[2][1]);
  }
  // (A,B) and ΔW agree at the ends (same model up to rounding) and differ in between.
  const auto ab = connectivity_probe(w, states[0], states[1], 0, 1, Interpolation::ab, o);
  const auto dw = connectivity_probe(w, states[0], states[1], 0, 1, Interpolation::delta_w, o);
  CHECK(ab.front().loss_from == Approx(dw.front().loss_from).epsilon(1e-10));
  CHECK(ab.back().loss_to == Approx(dw.back().loss_to).epsilon(1e-10));
  // (Task 1's inputs live in features task 2 never sees, so only task 2's loss tells them apart.)
  CHECK(ab[2].loss_to != Approx(dw[2].loss_to).epsilon(1e-6));
  // The model's parameters are restored bit for bit.
  for (const auto& [name, p] : capture_adapted_state(w.model()))
    for (Index i = 0; i < p.numel(); ++i) CHECK(p[i] == before.at(name)[i]);

  ParameterState<double> stranger = states[0];
  stranger.emplace("proj.experts.nobody.lora_A", Tensor<double>::zeros({2, 6}));
  CHECK_THROWS_WITH(connectivity_probe(w, stranger, states[1], 0, 1, Interpolation::ab, o),
                    Catch::Contains("'proj.experts.nobody.lora_A'"));
  const std::string csv = connectivity_csv({{Interpolation::ab, ab}}, "t1", "t2");
  CHECK(csv.rfind("mode,alpha,loss_t1,loss_t2,score_t1,score_t2\nab,0.0000,", 0) == 0);
}

TEST_CASE("Bad I-LoRA settings name the setting", "[continual][i_lora]") {
  CHECK_THROWS_WITH(parse_consistency_target("median"), Catch::Contains("'median'"));
  StrategyOptions o = small_lora_options();
  o.i_lora.consistency = -1;
  CHECK_THROWS_WITH(make_strategy<float>("i_lora", o), Catch::Contains("consistency weight -1"));
  o.i_lora.consistency = 1;
  o.i_lora.decay = 2;
  CHECK_THROWS_WITH(make_strategy<float>("i_lora", o), Catch::Contains("decay 2"));
  // A workload without hidden states is refused when the consistency term first needs them.
  class NoFeatures : public Workload<float> {
   public:
    Module<float>& model() override { return inner.model(); }
    Index num_tasks() const override { return inner.num_tasks(); }
    std::string task_name(Index t) const override { return inner.task_name(t); }
    Index train_size(Index t) const override { return inner.train_size(t); }
    Tensor<float> loss(const std::vector<ExampleRef>& batch) override { return inner.loss(batch); }
    double score(Index t, Split split) override { return inner.score(t, split); }
    std::string score_name() const override { return inner.score_name(); }
    SyntheticWorkload<float> inner{2, 16, 3, 3, 27};
  } w;
  auto i_lora = make_strategy<float>("i_lora", small_lora_options());
  CHECK_THROWS_WITH(train_continual(w, *i_lora, quiet_trainer(3)), Catch::Contains("does not expose its hidden states"));
}

TEST_CASE("I-LoRA + ELLA penalises the new update against the settled past experts", "[continual][i_lora][ella]") {
  SyntheticWorkload<double> w(2, 32, 3, 3, 27);
  StrategyOptions o = i_lora_options(0.5);  // slow and fast part quickly
  o.ella_lambda = 1.0;
  auto strategy = make_strategy<double>("i_lora+ella", o);
  auto& i_lora = dynamic_cast<ILora<double>&>(*strategy);
  const std::vector<ExampleRef> batch{{0, 0}, {0, 1}, {0, 2}, {0, 3}};
  i_lora.before_task(w, 0);
  AdamW<double> optimizer(w.model().trainable_parameters(), {});
  for (long step = 0; step < 6; ++step) {
    i_lora.training_loss(w, batch).backward();
    optimizer.step();
    optimizer.zero_grad();
    i_lora.after_step(w, batch, step);
  }
  i_lora.after_task(w, 0);
  i_lora.before_task(w, 1);  // task1's expert freezes and takes its slow values
  auto& layer = *adapted_layers(w.model()).front().second;
  Rng rng(3);
  layer.experts().get("task2").b().vec() = Tensor<double>::normal(layer.experts().get("task2").b().shape(), rng, 0.0, 1.0).vec();
  const Tensor<double> settled_past = ella_past_updates(w.model(), "task2").front();
  const Tensor<double> slow_b = i_lora.slow().slow("proj.experts.task1.lora_B");
  CHECK(layer.experts().get("task1").b().to_vector() == slow_b.to_vector());  // settled
  const double expected = static_cast<double>(ella_penalty(w.model(), "task2", {settled_past}).item());
  CHECK(expected > 0);
  CHECK(static_cast<double>(i_lora.inner().extra_loss(w, {{1, 0}}).item()) == Approx(expected).epsilon(1e-12));
}
