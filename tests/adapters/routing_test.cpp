// Per-example routing (SAPT's and MoA's routers): the routed op's gradients and values, top-1
// running one expert per row (counted), both routers' gradients, SAPT's single-key reduction to
// plain LoRA, and the errors of a layer that was not routed.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <numeric>

#include "everlora/adapters.hpp"
#include "support/gradcheck.hpp"

using namespace everlora;

namespace {

LoraConfig routing_test_lora() {
  LoraConfig c;
  c.r = 2;
  c.alpha = 4;  // s = 2
  c.target_modules = {"x"};
  return c;
}

/// A 5 → 4 layer with `experts` experts of random A and B.
struct RoutedLayer {
  Rng rng{31};
  Linear<double> base{5, 4, true, rng};
  AdaptedLinear<double> layer{base};

  explicit RoutedLayer(int experts) {
    for (int e = 0; e < experts; ++e) {
      auto& ex = layer.add_expert("t" + std::to_string(e + 1), routing_test_lora(), rng);
      ex.b().vec() = Tensor<double>::normal(ex.b().shape(), rng, 0, 1).vec();
    }
  }
  std::vector<Tensor<double>> as() {
    std::vector<Tensor<double>> out;
    for (std::size_t e = 0; e < layer.experts().size(); ++e) out.push_back(layer.experts()[e].a());
    return out;
  }
  std::vector<Tensor<double>> bs() {
    std::vector<Tensor<double>> out;
    for (std::size_t e = 0; e < layer.experts().size(); ++e) out.push_back(layer.experts()[e].b());
    return out;
  }
  std::vector<double> scales() { return std::vector<double>(layer.experts().size(), 2.0); }
};

/// A router whose weights are whatever the test sets (to drive RoutedCombiner directly).
class FixedRouter : public ExampleRouter<double> {
 public:
  explicit FixedRouter(Index experts) : experts_(experts) {}
  const char* type_name() const override { return "FixedRouter"; }
  Index num_experts() const override { return experts_; }
  Tensor<double> compute(const RoutingInput<double>& input) override { return next.defined() ? next : Tensor<double>::ones({input.examples(), experts_}); }
  Tensor<double> next;

 private:
  Index experts_;
};

RoutingInput<double> random_routing_input(Index batch, Index seq, Index width, Rng& rng) {
  RoutingInput<double> in{Tensor<double>::normal({batch, seq, width}, rng, 0, 1), Tensor<double>::ones({batch, seq})};
  in.mask[seq - 1] = 0;  // a padded position in the first example
  return in;
}

}  // namespace

TEST_CASE("gradcheck: routed_lora_linear for x, every A and B, and dense routing weights", "[adapters][gradcheck][routing]") {
  RoutedLayer m(3);
  const Tensor<double> x = everlora_test::random_input({2, 3, 5}, m.rng);  // 2 examples of 3 rows
  Tensor<double> routing = Tensor<double>::uniform({2, 3}, m.rng, 0.1, 1.0);
  routing.requires_grad_();
  std::vector<Tensor<double>> inputs{x, routing};
  for (const auto& a : m.as()) inputs.push_back(a);
  for (const auto& b : m.bs()) inputs.push_back(b);
  const Tensor<double> w0 = m.base.weight(), b0 = m.base.bias();
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck(
      [&](const std::vector<Tensor<double>>& in) {
        return routed_lora_linear(in[0], in[0], w0, b0, {in[2], in[3], in[4]}, {in[5], in[6], in[7]}, m.scales(), in[1]);
      },
      inputs));
}

TEST_CASE("gradcheck: routed_lora_linear with sparse routing and a separate adapter input", "[adapters][gradcheck][routing]") {
  RoutedLayer m(3);
  const Tensor<double> x = everlora_test::random_input({3, 2, 5}, m.rng);
  const Tensor<double> xa = everlora_test::random_input({3, 2, 5}, m.rng);
  // top-1 for example 0, top-2 for example 1, no expert for example 2
  Tensor<double> routing = Tensor<double>::zeros({3, 3});
  routing[1] = 1.0;
  routing[3] = 0.4;
  routing[5] = 0.6;
  std::vector<Tensor<double>> inputs{x, xa};
  for (const auto& a : m.as()) inputs.push_back(a);
  for (const auto& b : m.bs()) inputs.push_back(b);
  const Tensor<double> w0 = m.base.weight(), b0 = m.base.bias();
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck(
      [&](const std::vector<Tensor<double>>& in) {
        return routed_lora_linear(in[0], in[1], w0, b0, {in[2], in[3], in[4]}, {in[5], in[6], in[7]}, m.scales(), routing);
      },
      inputs));
}

TEST_CASE("routed_lora_linear equals lora_linear with the example weights repeated on every row", "[adapters][routing]") {
  RoutedLayer m(3);
  const Tensor<double> x = everlora_test::random_input({2, 4, 5}, m.rng);
  Tensor<double> routing = Tensor<double>::uniform({2, 3}, m.rng, -1.0, 1.0);
  routing[4] = 0.0;  // example 1 skips expert 1
  Tensor<double> per_row = Tensor<double>::empty({8, 3});
  for (Index row = 0; row < 8; ++row)
    for (Index e = 0; e < 3; ++e) per_row[row * 3 + e] = routing[(row / 4) * 3 + e];
  const Tensor<double> routed = routed_lora_linear(x, x, m.base.weight(), m.base.bias(), m.as(), m.bs(), m.scales(), routing);
  const Tensor<double> dense = lora_linear(x, x, m.base.weight(), m.base.bias(), m.as(), m.bs(), m.scales(), per_row);
  CHECK((routed.vec() - dense.vec()).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("Top-1 routing runs one expert per row, counted, while Sum runs every expert on every row", "[adapters][routing][moa]") {
  RoutedLayer m(4);
  auto router = std::make_shared<FixedRouter>(4);
  const Tensor<double> x = everlora_test::random_input({5, 3, 5}, m.rng);  // 5 examples, 15 rows
  {
    NoGrad no_graph;
    m.layer.forward(x);
  }
  CHECK(std::accumulate(m.layer.expert_rows().begin(), m.layer.expert_rows().end(), Index(0)) == 4 * 15);

  m.layer.set_combiner(std::make_shared<RoutedCombiner<double>>(router));
  m.layer.reset_expert_rows();
  router->next = Tensor<double>::zeros({5, 4});
  for (Index ex = 0; ex < 5; ++ex) router->next[ex * 4 + ex % 4] = 1.0;  // example ex → expert ex mod 4
  router->route(5, [&] { return random_routing_input(5, 3, 5, m.rng); });
  NoGrad no_graph;
  const Tensor<double> y = m.layer.forward(x);
  const std::vector<Index>& rows = m.layer.expert_rows();
  CHECK(std::accumulate(rows.begin(), rows.end(), Index(0)) == 15);
  CHECK(rows == std::vector<Index>{6, 3, 3, 3});
  // and each example's rows are the base plus its own expert alone
  for (Index ex = 0; ex < 5; ++ex) {
    Tensor<double> xe = Tensor<double>::empty({3, 5});
    std::copy_n(x.data() + ex * 15, 15, xe.data());
    const Index e = ex % 4;
    const Tensor<double> expected =
        lora_linear(xe, xe, m.base.weight(), m.base.bias(), {m.as()[e]}, {m.bs()[e]}, {2.0}, Tensor<double>());
    CHECK((Eigen::Map<const Eigen::VectorXd>(y.data() + ex * 12, 12) - expected.vec()).cwiseAbs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("A routed layer refuses to run without routing weights, with the wrong count, or under a JumpReLU gate", "[adapters][routing][errors]") {
  RoutedLayer m(2);
  auto router = std::make_shared<FixedRouter>(2);
  m.layer.set_combiner(std::make_shared<RoutedCombiner<double>>(router));
  const Tensor<double> x = everlora_test::random_input({2, 5}, m.rng);
  CHECK_THROWS_WITH(m.layer.forward(x), Catch::Contains("has not routed this batch"));
  router->route(3, [&] { return random_routing_input(3, 1, 5, m.rng); });
  CHECK_THROWS_WITH(m.layer.forward(x), Catch::Contains("split evenly"));
  auto three = std::make_shared<FixedRouter>(3);
  m.layer.set_combiner(std::make_shared<RoutedCombiner<double>>(three));
  three->route(2, [&] { return random_routing_input(2, 1, 5, m.rng); });
  CHECK_THROWS_WITH(m.layer.forward(x), Catch::Contains("routes among 3 experts, the layer has 2"));
  CHECK_THROWS_WITH(three->force(3), Catch::Contains("cannot force expert 3 of 3"));
  CHECK_THROWS_WITH(three->route(4, [&] { return random_routing_input(2, 1, 5, m.rng); }), Catch::Contains("routing input of 2 examples for a batch of 4"));
  m.layer.set_gate(std::make_shared<JumpReLU<double>>(JumpReluConfig{}));
  CHECK_THROWS_WITH(m.layer.forward(x), Catch::Contains("JumpReLU gate is not supported"));
}

TEST_CASE("gradcheck: SharedAttentionRouter's weights for the query net and every key", "[adapters][gradcheck][sapt]") {
  Rng rng(41);
  SharedAttentionRouter<double> router(6, 4, rng);
  for (int k = 0; k < 3; ++k) router.add_key(rng);
  for (Index t = 0; t < 3; ++t) router.key(t).requires_grad_();  // check the older keys too
  const RoutingInput<double> input = random_routing_input(3, 4, 6, rng);
  std::vector<Tensor<double>> inputs;
  for (auto& [name, p] : router.named_parameters()) inputs.push_back(p);
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck([&](const std::vector<Tensor<double>>&) { return router.compute(input); }, inputs));
}

TEST_CASE("SharedAttentionRouter: the max-pooled prompt, the bottleneck, keys over the square root of d", "[adapters][sapt]") {
  Rng rng(43);
  SharedAttentionRouter<double> router(3, 2, rng);
  router.add_key(rng);
  router.add_key(rng);
  CHECK_FALSE(router.key(0).requires_grad());
  CHECK(router.key(1).requires_grad());
  RoutingInput<double> input{Tensor<double>::normal({1, 3, 3}, rng, 0, 1), Tensor<double>::ones({1, 3})};
  input.mask[2] = 0;  // the last position is padding: it must not count in the max
  input.tokens[6] = 100;
  const Tensor<double> w = router.compute(input);
  // by hand
  std::vector<double> e(3);
  for (Index j = 0; j < 3; ++j) e[static_cast<std::size_t>(j)] = std::max(input.tokens[j], input.tokens[3 + j]);
  const auto& named = router.named_parameters();
  auto param = [&](const std::string& name) {
    for (auto& [n, p] : named)
      if (n == name) return p;
    FAIL("no parameter " << name);
    return Tensor<double>();
  };
  const Tensor<double> down = param("down.weight"), up = param("up.weight"), gamma = param("norm.weight"), beta = param("norm.bias");
  std::vector<double> h(2), q(3);
  for (Index i = 0; i < 2; ++i) {
    double z = 0;
    for (Index j = 0; j < 3; ++j) z += down[i * 3 + j] * e[static_cast<std::size_t>(j)];
    h[static_cast<std::size_t>(i)] = z / (1 + std::exp(-z));  // SiLU
  }
  for (Index j = 0; j < 3; ++j) q[static_cast<std::size_t>(j)] = up[j * 2] * h[0] + up[j * 2 + 1] * h[1];
  const double mu = (q[0] + q[1] + q[2]) / 3;
  double var = 0;
  for (double v : q) var += (v - mu) * (v - mu) / 3;
  for (Index j = 0; j < 3; ++j) q[static_cast<std::size_t>(j)] = (q[static_cast<std::size_t>(j)] - mu) / std::sqrt(var + 1e-5) * gamma[j] + beta[j];
  double u[2];
  for (Index k = 0; k < 2; ++k) {
    u[k] = 0;
    for (Index j = 0; j < 3; ++j) u[k] += q[static_cast<std::size_t>(j)] * router.key(k)[j] / std::sqrt(3.0);
  }
  const double p0 = 1 / (1 + std::exp(u[1] - u[0]));
  CHECK(w[0] == Approx(p0).epsilon(1e-12));
  CHECK(w[1] == Approx(1 - p0).epsilon(1e-12));
}

TEST_CASE("With one key SAPT's layer is plain LoRA exactly", "[adapters][sapt]") {
  RoutedLayer m(1);
  const Tensor<double> x = everlora_test::random_input({2, 3, 5}, m.rng);
  const Tensor<double> plain = m.layer.forward(x);
  auto router = std::make_shared<SharedAttentionRouter<double>>(5, 4, m.rng);
  router->add_key(m.rng);
  m.layer.set_combiner(std::make_shared<RoutedCombiner<double>>(router));
  const RoutingInput<double> input = random_routing_input(2, 3, 5, m.rng);
  router->route(2, [&] { return input; });
  CHECK(router->weights().vec() == Eigen::VectorXd::Ones(2));
  const Tensor<double> routed = m.layer.forward(x);
  CHECK(routed.vec() == plain.vec());
}

TEST_CASE("gradcheck: DomainRouter's logits and top-k weights for every row and bias", "[adapters][gradcheck][moa]") {
  Rng rng(47);
  DomainRouter<double> router(4, 2);
  for (int d = 0; d < 3; ++d) router.add_domain();
  std::vector<Tensor<double>> inputs = router.classifier_parameters();
  for (auto& p : inputs) p.vec() = Tensor<double>::normal(p.shape(), rng, 0, 1).vec();
  router.standardize_on(Tensor<double>::normal({10, 4}, rng, 0.5, 2.0));
  const RoutingInput<double> input = random_routing_input(3, 2, 4, rng);
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck(
      [&](const std::vector<Tensor<double>>&) { return router.logits(router.summarize(input)); }, inputs));
  // top-2 of 3: the kept pair is fixed under the small perturbations of the check
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck([&](const std::vector<Tensor<double>>&) { return router.compute(input); }, inputs));
  const std::vector<std::int32_t> labels{0, 2, 1};
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck(
      [&](const std::vector<Tensor<double>>&) { return cross_entropy(router.logits(router.summarize(input)), labels); }, inputs));
}

TEST_CASE("DomainRouter keeps each example's top-k, renormalised, and top-1 is weight 1 on the argmax", "[adapters][moa]") {
  DomainRouter<double> top1(2, 1), top2(2, 2);
  Tensor<double> p = Tensor<double>::empty({2, 3});
  const double values[] = {0.2, 0.5, 0.3, 0.6, 0.1, 0.3};
  std::copy_n(values, 6, p.data());
  const Tensor<double> w1 = top1.top_k_weights(p), w2 = top2.top_k_weights(p);
  CHECK(std::vector<double>(w1.data(), w1.data() + 6) == std::vector<double>{0, 1, 0, 1, 0, 0});
  CHECK(w2[1] == Approx(0.5 / 0.8));
  CHECK(w2[2] == Approx(0.3 / 0.8));
  CHECK(w2[0] == 0.0);
  CHECK(w2[4] == 0.0);
  CHECK_THROWS_WITH(DomainRouter<double>(2, 0), Catch::Contains("top_k must be at least 1"));
  CHECK_THROWS_WITH(top1.logits(Tensor<double>::zeros({1, 2})), Catch::Contains("no domain yet"));
}

TEST_CASE("Standardizer is the identity until fitted, then centres and scales each feature", "[adapters][routing]") {
  Standardizer<double> z(2);
  Tensor<double> x = Tensor<double>::empty({3, 2});
  const double values[] = {1, 10, 2, 20, 3, 60};
  std::copy_n(values, 6, x.data());
  CHECK(z.apply(x).vec() == x.vec());
  z.fit(x);
  const Tensor<double> y = z.apply(x);
  CHECK(y[0] == Approx(-1.0 / std::sqrt(2.0 / 3.0)).epsilon(1e-5));
  CHECK(y[2] == Approx(0.0).margin(1e-12));
  const double sd = std::sqrt(((10.0 - 30) * (10.0 - 30) + (20.0 - 30) * (20.0 - 30) + 30.0 * 30.0) / 3);
  CHECK(y[5] == Approx(30.0 / sd).epsilon(1e-5));
  for (auto& [name, p] : z.named_parameters()) CHECK_FALSE(p.requires_grad());
  CHECK_THROWS_WITH(z.fit(Tensor<double>::zeros({2, 3})), Catch::Contains("are not [M, 2]"));
}

TEST_CASE("A layer under dense per-example weights takes the stacked op and matches the routed op", "[adapters][routing][sapt]") {
  RoutedLayer m(3);
  auto router = std::make_shared<FixedRouter>(3);
  m.layer.set_combiner(std::make_shared<RoutedCombiner<double>>(router));
  const Tensor<double> x = everlora_test::random_input({2, 4, 5}, m.rng);
  Tensor<double> w = Tensor<double>::uniform({2, 3}, m.rng, 0.1, 1.0);
  w.requires_grad_();
  router->next = w;
  router->route(2, [&] { return random_routing_input(2, 4, 5, m.rng); });
  const Tensor<double> y = m.layer.forward(x);
  CHECK(m.layer.expert_rows() == std::vector<Index>{8, 8, 8});
  const Tensor<double> seed = Tensor<double>::normal(y.shape(), m.rng, 0, 1);
  y.backward(seed);
  const Tensor<double> stacked_grad = w.grad().clone();
  const Tensor<double> a0_grad = m.as()[0].grad().clone();
  w.zero_grad();
  m.as()[0].zero_grad();
  const Tensor<double> reference = routed_lora_linear(x, x, m.base.weight(), m.base.bias(), m.as(), m.bs(), m.scales(), w);
  reference.backward(seed);
  CHECK((y.vec() - reference.vec()).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((stacked_grad.vec() - w.grad().vec()).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((a0_grad.vec() - m.as()[0].grad().vec()).cwiseAbs().maxCoeff() < 1e-12);
  EVERLORA_CHECK_GRADIENT(everlora_test::gradcheck([](const std::vector<Tensor<double>>& in) { return repeat_rows(in[0], 3); }, {w}));
}
