// Forward values and gradients of every op against PyTorch 1.13 (float64), from the golden file
// that tools/make_golden.py wrote offline. Each case: compare the output, backpropagate the
// stored projection weights, compare every input's gradient. Run in double and in float.
#include <catch2/catch.hpp>

#include <functional>
#include <map>

#include "everlora/core.hpp"
#include "support/golden.hpp"

using namespace everlora;
using everlora_test::GoldenCase;
using everlora_test::GoldenTensor;

namespace {

template <class T>
using Ins = std::map<std::string, Tensor<T>>;
template <class T>
using CaseFn = std::function<Tensor<T>(Ins<T>&, const GoldenCase&)>;

Shape shape_of(const GoldenTensor& g) {
  Shape s;
  for (long d : g.shape) s.push_back(d);
  return s;
}

template <class T>
Tensor<T> to_tensor(const GoldenTensor& g) {
  return Tensor<T>::from_vector(shape_of(g), g.as<T>());
}

/// The everlora expression of each golden case, by name.
template <class T>
std::map<std::string, CaseFn<T>> golden_ops() {
  std::map<std::string, CaseFn<T>> ops;
  auto binary = [&](const std::string& name, Tensor<T> (*fn)(const Tensor<T>&, const Tensor<T>&)) {
    ops[name] = [fn](Ins<T>& in, const GoldenCase&) { return fn(in["a"], in["b"]); };
  };
  binary("matmul", matmul<T>);
  binary("matmul_batched3", matmul<T>);
  binary("matmul_batched4", matmul<T>);
  binary("matmul_flatten", matmul<T>);
  binary("matmul_nt", matmul_nt<T>);
  binary("matmul_tn", matmul_tn<T>);
  for (const std::string mode : {"same", "row", "col"}) {
    binary("add_" + mode, add<T>);
    binary("sub_" + mode, sub<T>);
    binary("mul_" + mode, mul<T>);
    binary("div_" + mode, div<T>);
  }
  binary("add_scalar_tensor", add<T>);
  binary("sub_row_swapped", sub<T>);
  binary("mse_loss", mse_loss<T>);
  binary("l1_loss", l1_loss<T>);

  auto scalar_param = [](const GoldenCase& c, const char* key) { return static_cast<T>(c.param(key)); };
  ops["add_scalar"] = [=](Ins<T>& in, const GoldenCase& c) { return in["x"] + scalar_param(c, "s"); };
  ops["mul_scalar"] = [=](Ins<T>& in, const GoldenCase& c) { return in["x"] * scalar_param(c, "s"); };
  ops["rsub_scalar"] = [=](Ins<T>& in, const GoldenCase& c) { return scalar_param(c, "s") - in["x"]; };
  ops["rdiv_scalar"] = [=](Ins<T>& in, const GoldenCase& c) { return scalar_param(c, "s") / in["x"]; };
  ops["pow_scalar"] = [=](Ins<T>& in, const GoldenCase& c) { return pow(in["x"], scalar_param(c, "p")); };

  auto unary = [&](const std::string& name, Tensor<T> (*fn)(const Tensor<T>&)) {
    ops[name] = [fn](Ins<T>& in, const GoldenCase&) { return fn(in["x"]); };
  };
  unary("relu", relu<T>);
  unary("gelu", gelu<T>);
  unary("silu", silu<T>);
  unary("tanh", tanh<T>);
  unary("sigmoid", sigmoid<T>);
  unary("exp", exp<T>);
  unary("log", log<T>);
  unary("sqrt", sqrt<T>);
  unary("abs", abs<T>);
  unary("neg", neg<T>);
  unary("softmax", softmax<T>);
  unary("log_softmax", log_softmax<T>);
  unary("sum_all", sum<T>);
  unary("mean_all", mean<T>);

  auto targets = [](const GoldenCase& c, const char* key) { return c.integer(key).as<std::int32_t>(); };
  ops["cross_entropy"] = ops["cross_entropy_3d"] = [=](Ins<T>& in, const GoldenCase& c) {
    return cross_entropy(in["logits"], targets(c, "targets"), c.int_param("ignore_index"));
  };
  ops["layer_norm"] = [=](Ins<T>& in, const GoldenCase& c) {
    return layer_norm(in["x"], in["w"], in["b"], scalar_param(c, "eps"));
  };
  ops["embedding"] = [=](Ins<T>& in, const GoldenCase& c) {
    return embedding(in["weight"], targets(c, "ids"), shape_of(c.integer("ids")));
  };
  for (const char* name : {"sum_axis0", "sum_axis1", "sum_axis2", "sum_axis_neg1"})
    ops[name] = [](Ins<T>& in, const GoldenCase& c) { return sum(in["x"], c.int_param("axis")); };
  ops["mean_axis1"] = [](Ins<T>& in, const GoldenCase& c) { return mean(in["x"], c.int_param("axis")); };
  ops["transpose01"] = ops["transpose12"] = [](Ins<T>& in, const GoldenCase& c) {
    return transpose(in["x"], c.int_param("d0"), c.int_param("d1"));
  };
  ops["slice"] = ops["slice_axis0"] = [](Ins<T>& in, const GoldenCase& c) {
    return slice(in["x"], c.int_param("axis"), c.int_param("start"), c.int_param("end"));
  };
  ops["concat"] = [](Ins<T>& in, const GoldenCase& c) {
    return concat<T>({in["a"], in["b"]}, c.int_param("axis"));
  };
  ops["concat_axis0"] = [](Ins<T>& in, const GoldenCase& c) {
    return concat<T>({in["a"], in["b"], in["c"]}, c.int_param("axis"));
  };
  ops["reshape"] = [](Ins<T>& in, const GoldenCase& c) {
    return reshape(in["x"], {c.int_param("d0"), c.int_param("d1")});
  };
  ops["mean_pool"] = [](Ins<T>& in, const GoldenCase& c) { return mean_pool(in["x"], to_tensor<T>(c.integer("mask"))); };
  ops["max_pool"] = [](Ins<T>& in, const GoldenCase& c) { return max_pool(in["x"], to_tensor<T>(c.integer("mask"))); };
  ops["causal_attention"] = ops["causal_attention_kv"] = [](Ins<T>& in, const GoldenCase& c) {
    return causal_attention(in["q"], in["k"], in["v"], c.int_param("n_heads"));
  };
  return ops;
}

/// Largest |actual − expected| relative to max(1, |expected|), with the first offending index.
template <class T>
void check_close(const Tensor<T>& actual, const GoldenTensor& expected, double tolerance,
                 const std::string& what) {
  INFO(what << ": shape " << actual.shape().str() << " vs golden " << shape_of(expected).str());
  REQUIRE(actual.shape() == shape_of(expected));
  double worst = 0;
  Index worst_at = 0;
  for (Index i = 0; i < actual.numel(); ++i) {
    const double e = expected.values[static_cast<std::size_t>(i)];
    const double err = std::abs(static_cast<double>(actual[i]) - e) / std::max(1.0, std::abs(e));
    if (err > worst) worst = err, worst_at = i;
  }
  INFO("max relative difference " << worst << " at element " << worst_at << " (everlora "
                                  << actual[worst_at] << ", torch "
                                  << expected.values[static_cast<std::size_t>(worst_at)] << ")");
  CHECK(worst <= tolerance);
}

}  // namespace

TEMPLATE_TEST_CASE("every op matches PyTorch's values and gradients", "[core][golden]", float, double) {
  using T = TestType;
  const double tolerance = std::is_same_v<T, double> ? 1e-10 : 2e-5;
  const auto file = everlora_test::load_golden(EVERLORA_TEST_FIXTURES_DIR "/core_golden.txt");
  const auto ops = golden_ops<T>();
  for (const auto& [name, c] : file) {
    const auto op = ops.find(name);
    INFO("golden case " << name);
    REQUIRE(op != ops.end());  // every recorded case has an everlora expression
    Ins<T> inputs;
    for (const auto& [key, g] : c.in) inputs[key] = to_tensor<T>(g).requires_grad_();
    const Tensor<T> out = op->second(inputs, c);
    check_close(out, c.output(), tolerance, "output");
    out.backward(to_tensor<T>(c.weight));
    for (const auto& [key, g] : c.grad) check_close(inputs[key].grad(), g, tolerance, "grad of " + key);
  }
  CHECK(file.size() == ops.size());  // and every everlora expression has a case
}
