// Bad hyperparameters and parameter lists are rejected at construction with Error(config) naming
// the field; set_lr validates too.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "everlora/core.hpp"
#include "everlora/optim.hpp"
#include "optim_helpers.hpp"

using namespace everlora;
using everlora_test::param;

namespace {

template <class F>
void expect_config_error(F&& f, const std::string& fragment) {
  try {
    f();
    FAIL("expected a config error containing '" << fragment << "'");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::Contains(fragment));
  }
}

}  // namespace

TEST_CASE("SGD names the bad hyperparameter", "[optim][errors]") {
  auto w = param<float>({2}, {1, 2});
  const std::vector<Tensor<float>> ps{w};
  auto with = [&](auto edit) {
    return [&, edit] {
      SGDOptions o;
      edit(o);
      SGD<float> opt(ps, o);
    };
  };
  expect_config_error(with([](SGDOptions& o) { o.lr = -0.1; }), "SGD: lr = -0.1");
  expect_config_error(with([](SGDOptions& o) { o.lr = std::numeric_limits<double>::infinity(); }), "lr");
  expect_config_error(with([](SGDOptions& o) { o.momentum = -0.5; }), "momentum");
  expect_config_error(with([](SGDOptions& o) { o.momentum = 1.5; }), "momentum");
  expect_config_error(with([](SGDOptions& o) { o.dampening = 2.0; }), "dampening");
  expect_config_error(with([](SGDOptions& o) { o.weight_decay = -1e-4; }), "weight_decay");
  expect_config_error(with([](SGDOptions& o) { o.nesterov = true; }), "nesterov");
  expect_config_error(with([](SGDOptions& o) {
                        o.nesterov = true;
                        o.momentum = 0.9;
                        o.dampening = 0.1;
                      }),
                      "nesterov");
}

TEST_CASE("AdamW names the bad hyperparameter", "[optim][errors]") {
  auto w = param<double>({2}, {1, 2});
  const std::vector<Tensor<double>> ps{w};
  auto with = [&](auto edit) {
    return [&, edit] {
      AdamWOptions o;
      edit(o);
      AdamW<double> opt(ps, o);
    };
  };
  expect_config_error(with([](AdamWOptions& o) { o.lr = -1e-3; }), "lr");
  expect_config_error(with([](AdamWOptions& o) { o.lr = std::nan(""); }), "lr");
  expect_config_error(with([](AdamWOptions& o) { o.beta1 = 1.0; }), "AdamW: beta1 = 1 is invalid");
  expect_config_error(with([](AdamWOptions& o) { o.beta1 = -0.1; }), "beta1");
  expect_config_error(with([](AdamWOptions& o) { o.beta2 = 1.0; }), "beta2");
  expect_config_error(with([](AdamWOptions& o) { o.eps = 0.0; }), "eps");
  expect_config_error(with([](AdamWOptions& o) { o.eps = -1e-8; }), "eps");
  expect_config_error(with([](AdamWOptions& o) { o.weight_decay = -0.01; }), "weight_decay");
}

TEST_CASE("set_lr rejects a negative or non-finite learning rate", "[optim][errors]") {
  auto w = param<float>({1}, {1});
  AdamW<float> opt(std::vector<Tensor<float>>{w});
  expect_config_error([&] { opt.set_lr(-1.0); }, "AdamW: lr = -1");
  expect_config_error([&] { opt.set_lr(std::numeric_limits<double>::infinity()); }, "lr");
  CHECK(opt.lr() == Approx(1e-3));  // unchanged
  opt.set_lr(0.0);
  CHECK(opt.lr() == 0.0);
}

TEST_CASE("an optimizer needs trainable, distinct parameters", "[optim][errors]") {
  auto frozen = Tensor<float>::ones({2});
  expect_config_error([&] { SGD<float> opt({{"frozen", frozen}}); }, "no trainable parameters");
  expect_config_error([&] { AdamW<float> opt(std::vector<Tensor<float>>{}); }, "no trainable parameters");
  auto w = param<float>({2}, {1, 2});
  expect_config_error([&] { SGD<float> opt({{"w", w}, {"w", param<float>({1}, {0})}}); },
                      "'w' appears twice");
  expect_config_error([&] { SGD<float> opt({{"a", w}, {"b", w}}); }, "'b' shares its storage");
  expect_config_error([&] { SGD<float> opt({{"u", Tensor<float>()}}); }, "'u' is an undefined tensor");
}
