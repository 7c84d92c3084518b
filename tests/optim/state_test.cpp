// Saving and resuming an optimizer: state_dict → a new optimizer over reloaded weights →
// load_state_dict → continuing must give the very same bits as a run that never stopped.
// Also: the dict is a deep copy, and a bad dict is rejected by key before anything changes.
#include <catch2/catch.hpp>

#include <cstring>
#include <functional>
#include <memory>

#include "everlora/core.hpp"
#include "everlora/optim.hpp"
#include "optim_helpers.hpp"

using namespace everlora;

namespace {

template <class T>
using Named = std::vector<std::pair<std::string, Tensor<T>>>;

template <class T>
Named<T> make_params(std::uint64_t seed) {
  Rng rng(seed);
  auto w = Tensor<T>::normal({4, 3}, rng, T(0), T(1));
  auto b = Tensor<T>::normal({3}, rng, T(0), T(1));
  w.requires_grad_();
  b.requires_grad_();
  return {{"layer.weight", w}, {"layer.bias", b}};
}

/// Deterministic gradients for step s; "layer.bias" gets none at steps 2 and 6.
template <class T>
void give_grads(Named<T>& params, long s) {
  Rng rng(1000 + static_cast<std::uint64_t>(s));
  for (auto& [name, p] : params) {
    if (name == "layer.bias" && (s == 2 || s == 6)) {
      everlora_test::drop_grad(p);
      continue;
    }
    std::vector<T> g(static_cast<std::size_t>(p.numel()));
    for (auto& x : g) x = static_cast<T>(rng.normal(0.0, 1.0));
    everlora_test::set_grad(p, g);
  }
}

template <class T>
using Factory = std::function<std::unique_ptr<Optimizer<T>>(const Named<T>&)>;

/// Steps [from, to) with the lr taken from a warm-up + cosine schedule.
template <class T>
void train(Optimizer<T>& opt, Named<T>& params, long from, long to) {
  const WarmupCosine schedule(0.05, 3, 10, 0.005);
  for (long s = from; s < to; ++s) {
    REQUIRE(opt.step_count() == s);
    give_grads(params, s);
    opt.set_lr(schedule(opt.step_count()));
    opt.step();
    opt.zero_grad();
  }
}

template <class T>
bool same_bits(const Tensor<T>& a, const Tensor<T>& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), sizeof(T) * static_cast<std::size_t>(a.numel())) == 0;
}

template <class T>
void check_resume_is_exact(const Factory<T>& make) {
  // Uninterrupted: 10 steps.
  auto full = make_params<T>(7);
  auto opt_full = make(full);
  train(*opt_full, full, 0, 10);

  // Interrupted after 4 steps: save weights and optimizer state, rebuild both, continue.
  auto first = make_params<T>(7);
  auto opt_first = make(first);
  train(*opt_first, first, 0, 4);
  const StateDict<T> saved = opt_first->state_dict();
  Named<T> resumed;
  for (const auto& [name, p] : first) {
    auto copy = p.clone();
    copy.requires_grad_();
    resumed.emplace_back(name, copy);
  }
  auto opt_resumed = make(resumed);
  opt_resumed->load_state_dict(saved);
  CHECK(opt_resumed->step_count() == 4);
  train(*opt_resumed, resumed, 4, 10);

  for (std::size_t i = 0; i < full.size(); ++i) {
    INFO(full[i].first);
    CHECK(same_bits(full[i].second, resumed[i].second));
  }
  const auto sa = opt_full->state_dict(), sb = opt_resumed->state_dict();
  REQUIRE(sa.size() == sb.size());
  for (const auto& [key, t] : sa) {
    INFO(key);
    CHECK(same_bits(t, sb.at(key)));
  }
}

template <class T>
Factory<T> sgd_factory() {
  return [](const Named<T>& p) -> std::unique_ptr<Optimizer<T>> {
    SGDOptions o;
    o.momentum = 0.9;
    o.nesterov = true;
    o.weight_decay = 0.01;
    return std::make_unique<SGD<T>>(p, o);
  };
}

template <class T>
Factory<T> adamw_factory() {
  return [](const Named<T>& p) -> std::unique_ptr<Optimizer<T>> {
    AdamWOptions o;
    o.weight_decay = 0.1;
    return std::make_unique<AdamW<T>>(p, o);
  };
}

template <class F>
void expect_error(F&& f, ErrorKind kind, const std::string& fragment) {
  try {
    f();
    FAIL("expected everlora::Error containing '" << fragment << "'");
  } catch (const Error& e) {
    CHECK(e.kind() == kind);
    CHECK_THAT(e.what(), Catch::Contains(fragment));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("an interrupted and resumed run is bit-identical to an uninterrupted one",
                   "[optim][state]", float, double) {
  SECTION("SGD with Nesterov momentum and weight decay") {
    check_resume_is_exact<TestType>(sgd_factory<TestType>());
  }
  SECTION("AdamW") { check_resume_is_exact<TestType>(adamw_factory<TestType>()); }
}

TEST_CASE("state_dict lists the step counts and one buffer per slot and parameter",
          "[optim][state]") {
  auto params = make_params<float>(1);
  AdamW<float> opt(params);
  const auto state = opt.state_dict();
  std::vector<std::string> keys;
  for (const auto& kv : state) keys.push_back(kv.first);
  CHECK(keys == std::vector<std::string>{"exp_avg.layer.bias", "exp_avg.layer.weight",
                                         "exp_avg_sq.layer.bias", "exp_avg_sq.layer.weight",
                                         "step", "step.layer.bias", "step.layer.weight"});
  CHECK(state.at("step").shape() == Shape{1});
  CHECK(state.at("exp_avg.layer.weight").shape() == Shape{4, 3});

  SGD<float> plain(params);  // no momentum: no buffers
  CHECK(plain.state_dict().size() == 3);
}

TEST_CASE("state_dict is a deep copy and load_state_dict copies in", "[optim][state]") {
  auto params = make_params<double>(2);
  AdamW<double> opt(params);
  give_grads(params, 0);
  opt.step();
  auto saved = opt.state_dict();
  const double m0 = saved.at("exp_avg.layer.weight")[0];
  give_grads(params, 1);
  opt.step();
  CHECK(saved.at("exp_avg.layer.weight")[0] == m0);  // the snapshot did not move
  opt.load_state_dict(saved);
  saved.at("exp_avg.layer.weight")[0] = 123.0;  // the optimizer does not alias the dict
  CHECK(opt.state_dict().at("exp_avg.layer.weight")[0] == m0);
  CHECK(opt.step_count() == 1);
}

TEST_CASE("load_state_dict names the missing, unexpected or misshapen key", "[optim][state][errors]") {
  auto params = make_params<float>(3);
  AdamW<float> opt(params);
  give_grads(params, 0);
  opt.step();
  const auto good = opt.state_dict();
  const auto before = opt.state_dict();

  auto missing = good;
  missing.erase("exp_avg_sq.layer.bias");
  expect_error([&] { opt.load_state_dict(missing); }, ErrorKind::format,
               "missing key 'exp_avg_sq.layer.bias'");

  auto extra = good;
  extra["momentum_buffer.layer.bias"] = Tensor<float>::zeros({3});
  expect_error([&] { opt.load_state_dict(extra); }, ErrorKind::format,
               "unexpected key 'momentum_buffer.layer.bias'");

  auto misshapen = good;
  misshapen["exp_avg.layer.weight"] = Tensor<float>::zeros({3, 4});
  expect_error([&] { opt.load_state_dict(misshapen); }, ErrorKind::shape, "'exp_avg.layer.weight'");
  expect_error([&] { opt.load_state_dict(misshapen); }, ErrorKind::shape, "[3, 4]");

  auto bad_step = good;
  bad_step["step"] = Tensor<float>::full({1}, 2.5f);
  expect_error([&] { opt.load_state_dict(bad_step); }, ErrorKind::value, "'step'");
  auto negative = good;
  negative["step.layer.bias"] = Tensor<float>::full({1}, -1.0f);
  expect_error([&] { opt.load_state_dict(negative); }, ErrorKind::value, "'step.layer.bias'");

  // Dicts of another optimizer type or over other parameters fail the same way.
  SGDOptions o;
  o.momentum = 0.9;
  SGD<float> sgd(params, o);
  expect_error([&] { sgd.load_state_dict(good); }, ErrorKind::format, "missing key 'momentum_buffer.");
  expect_error([&] { opt.load_state_dict(sgd.state_dict()); }, ErrorKind::format, "missing key 'exp_avg.");

  // Nothing changed through all of that.
  const auto after = opt.state_dict();
  CHECK(opt.step_count() == 1);
  for (const auto& [key, t] : before) {
    INFO(key);
    CHECK(same_bits(t, after.at(key)));
  }
}

TEST_CASE("large updates give the same bits on one thread and on several", "[optim][determinism]") {
  // Enough elements that step() spreads the parameters over threads.
  auto run = [](int threads) {
    set_num_threads(threads);
    Rng rng(21);
    Named<float> params;
    for (const Shape& s : {Shape{300, 200}, Shape{200}, Shape{128, 300}, Shape{7}}) {
      auto t = Tensor<float>::normal(s, rng, 0.0f, 1.0f);
      t.requires_grad_();
      params.emplace_back("p" + std::to_string(params.size()), t);
    }
    AdamW<float> opt(params);
    for (long s = 0; s < 3; ++s) {
      give_grads(params, s);
      opt.step();
    }
    std::vector<float> out;
    for (const auto& [name, p] : params) {
      const auto v = p.to_vector();
      out.insert(out.end(), v.begin(), v.end());
    }
    return out;
  };
  const int threads = num_threads();
  const auto one = run(1);
  const auto many = run(std::max(2, threads));
  set_num_threads(threads);
  CHECK(one == many);
}
