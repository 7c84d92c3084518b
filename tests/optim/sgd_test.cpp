// SGD against hand-computed updates: two elements, three steps, each variant of the rule
// (plain, momentum, dampening, Nesterov, weight decay). The expected values are worked out in the
// comments from the formulas of torch.optim.SGD:
//   d = g + λ·p;  b = d (first step) or μ·b + (1 − τ)·d;  d = d + μ·b (Nesterov) or b;  p −= lr·d
#include <catch2/catch.hpp>

#include "everlora/core.hpp"
#include "everlora/optim.hpp"
#include "optim_helpers.hpp"

using namespace everlora;
using everlora_test::check_values;
using everlora_test::param;
using everlora_test::set_grad;

namespace {

// p0 = [1, -2]; the gradients of steps 1..3:
const std::vector<std::vector<double>> kGrads = {{0.5, -1.0}, {1.0, 0.5}, {-2.0, 0.25}};

/// Runs three steps from p0 and returns the parameters after each.
template <class T>
std::vector<std::vector<double>> run_sgd(const SGDOptions& options) {
  auto p = param<T>({2}, {T(1), T(-2)});
  SGD<T> opt(std::vector<Tensor<T>>{p}, options);
  std::vector<std::vector<double>> after;
  for (const auto& g : kGrads) {
    set_grad(p, {T(g[0]), T(g[1])});
    opt.step();
    after.push_back({double(p[0]), double(p[1])});
  }
  CHECK(opt.step_count() == 3);
  return after;
}

template <class T>
void check_trajectory(const std::vector<std::vector<double>>& got,
                      const std::vector<std::vector<double>>& expected) {
  const double margin = std::is_same<T, float>::value ? 1e-6 : 1e-14;
  for (std::size_t s = 0; s < expected.size(); ++s) {
    INFO("after step " << s + 1);
    CHECK(got[s][0] == Approx(expected[s][0]).margin(margin));
    CHECK(got[s][1] == Approx(expected[s][1]).margin(margin));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("plain SGD subtracts lr times the gradient", "[optim][sgd]", float, double) {
  SGDOptions o;
  o.lr = 0.1;
  // p1 = [1, -2] - 0.1·[0.5, -1]        = [0.95, -1.9]
  // p2 = p1 - 0.1·[1, 0.5]              = [0.85, -1.95]
  // p3 = p2 - 0.1·[-2, 0.25]            = [1.05, -1.975]
  check_trajectory<TestType>(run_sgd<TestType>(o), {{0.95, -1.9}, {0.85, -1.95}, {1.05, -1.975}});
}

TEMPLATE_TEST_CASE("SGD with momentum starts the buffer at the first gradient", "[optim][sgd]", float,
                   double) {
  SGDOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  // b1 = g1                       = [0.5, -1]       p1 = [1, -2] - 0.1·b1   = [0.95, -1.9]
  // b2 = 0.9·b1 + g2              = [1.45, -0.4]    p2 = p1 - 0.1·b2        = [0.805, -1.86]
  // b3 = 0.9·b2 + g3              = [-0.695, -0.11] p3 = p2 - 0.1·b3        = [0.8745, -1.849]
  check_trajectory<TestType>(run_sgd<TestType>(o), {{0.95, -1.9}, {0.805, -1.86}, {0.8745, -1.849}});
}

TEMPLATE_TEST_CASE("SGD dampening scales new gradients after the first step", "[optim][sgd]", float,
                   double) {
  SGDOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  o.dampening = 0.5;
  // b1 = g1 (no dampening yet)    = [0.5, -1]       p1 = [0.95, -1.9]
  // b2 = 0.9·b1 + 0.5·g2          = [0.95, -0.65]   p2 = p1 - 0.1·b2        = [0.855, -1.835]
  // b3 = 0.9·b2 + 0.5·g3          = [-0.145, -0.46] p3 = p2 - 0.1·b3        = [0.8695, -1.789]
  check_trajectory<TestType>(run_sgd<TestType>(o), {{0.95, -1.9}, {0.855, -1.835}, {0.8695, -1.789}});
}

TEMPLATE_TEST_CASE("Nesterov SGD steps along the gradient plus the momentum look-ahead",
                   "[optim][sgd]", float, double) {
  SGDOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  o.nesterov = true;
  // b1 = [0.5, -1]        d1 = g1 + 0.9·b1 = [0.95, -1.9]      p1 = [0.905, -1.81]
  // b2 = [1.45, -0.4]     d2 = g2 + 0.9·b2 = [2.305, 0.14]     p2 = [0.6745, -1.824]
  // b3 = [-0.695, -0.11]  d3 = g3 + 0.9·b3 = [-2.6255, 0.151]  p3 = [0.93705, -1.8391]
  check_trajectory<TestType>(run_sgd<TestType>(o),
                             {{0.905, -1.81}, {0.6745, -1.824}, {0.93705, -1.8391}});
}

TEMPLATE_TEST_CASE("SGD weight decay adds lambda times the parameter to the gradient",
                   "[optim][sgd]", float, double) {
  SGDOptions o;
  o.lr = 0.1;
  o.weight_decay = 0.1;
  // d1 = g1 + 0.1·[1, -2]          = [0.6, -1.2]          p1 = [0.94, -1.88]
  // d2 = g2 + 0.1·p1               = [1.094, 0.312]       p2 = [0.8306, -1.9112]
  // d3 = g3 + 0.1·p2               = [-1.91694, 0.05888]  p3 = [1.022294, -1.917088]
  check_trajectory<TestType>(run_sgd<TestType>(o),
                             {{0.94, -1.88}, {0.8306, -1.9112}, {1.022294, -1.917088}});
}

TEST_CASE("SGD skips parameters without a gradient and leaves their buffer alone", "[optim][sgd]") {
  auto a = param<double>({2}, {1, 2});
  auto b = param<double>({1}, {5});
  SGDOptions o;
  o.lr = 0.5;
  o.momentum = 0.5;
  SGD<double> opt({{"a", a}, {"b", b}}, o);
  set_grad(a, {1.0, 1.0});
  opt.step();  // b has no gradient buffer at all
  CHECK(b[0] == 5.0);
  CHECK(a[0] == 0.5);
  const auto state = opt.state_dict();
  CHECK(state.at("step").item() == 1.0);
  CHECK(state.at("step.a").item() == 1.0);
  CHECK(state.at("step.b").item() == 0.0);
  CHECK(state.at("momentum_buffer.b").item() == 0.0);
  // Step 2: a's gradient zeroed (its buffer kept), b gets its first gradient, which starts its
  // momentum buffer (b = g, not 0.5·0 + g), as in PyTorch.
  opt.zero_grad();
  set_grad(b, {2.0});
  opt.step();
  CHECK(b[0] == 4.0);   // 5 - 0.5·2
  CHECK(a[0] == 0.25);  // buffer 0.5·1 + 0 = 0.5; 0.5 - 0.5·0.5
  const auto after = opt.state_dict();
  CHECK(after.at("step.a").item() == 2.0);
  CHECK(after.at("step.b").item() == 1.0);
  CHECK(after.at("momentum_buffer.b").item() == 2.0);
}

TEST_CASE("SGD keeps only the parameters that require grad, with their names",
          "[optim][sgd]") {
  auto a = param<float>({2}, {1, 2});
  auto frozen = Tensor<float>::ones({3});
  SGD<float> opt({{"a", a}, {"frozen", frozen}});
  REQUIRE(opt.size() == 1);
  CHECK(opt.names() == std::vector<std::string>{"a"});
  CHECK(std::string(opt.type_name()) == "SGD");
  CHECK(opt.lr() == Approx(0.01));
  SGD<float> unnamed(std::vector<Tensor<float>>{frozen, a});
  CHECK(unnamed.names() == std::vector<std::string>{"1"});  // named by position in the input
}
