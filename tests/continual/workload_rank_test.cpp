// Rank classification (TaskMetric::rank): the text workload picks, for each example, the label
// whose answer tokens are the most likely after the prompt, as a direct computation finds it.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "continual/tiny_fixtures.hpp"
#include "everlora/continual.hpp"
#include "everlora/nn.hpp"

using namespace everlora;

namespace {

/// log p(answer tokens | prompt) of `ex` with `label` as its output, from the model's logits.
double answer_loglik(GPT<double>& model, const Example& ex, const TaskSpec& spec, const std::string& label) {
  const EncodedExample e = encode_example({ex.instruction, ex.input, label}, spec, model.context());
  const Index n = static_cast<Index>(e.ids.size());
  const std::vector<std::int32_t> inputs(e.ids.begin(), e.ids.end() - 1);
  const Tensor<double> logits = model.forward(inputs, 1, n - 1);
  const Index vocab = logits.shape().last();
  double total = 0;
  for (Index t = e.prompt_len - 1; t < n - 1; ++t) {
    double sum = 0;
    for (Index v = 0; v < vocab; ++v) sum += std::exp(logits[t * vocab + v]);
    total += logits[t * vocab + e.ids[static_cast<std::size_t>(t + 1)]] - std::log(sum);
  }
  return total;
}

/// The label `answer_loglik` ranks first for `ex`.
std::string most_likely_label(GPT<double>& model, const Example& ex, const TaskSpec& spec) {
  std::string best;
  double best_loglik = -INFINITY;
  for (const std::string& label : spec.labels) {
    const double loglik = answer_loglik(model, ex, spec, label);
    if (loglik > best_loglik) best_loglik = loglik, best = label;
  }
  return best;
}

}  // namespace

TEST_CASE("Rank scoring picks the most likely label, as a direct computation does", "[continual][workload]") {
  auto gpt = everlora_test::tiny_gpt(96, 11);
  const TaskSpec spec{"pick", {"yes", "no", "maybe"}, TaskMetric::rank};
  std::vector<Example> test;
  const char* inputs[] = {"a short one", "a much longer input here", "third", "x", "the fifth input", "six"};
  const char* gold[] = {"yes", "no", "maybe", "no", "yes", "maybe"};
  for (int i = 0; i < 6; ++i) test.push_back({"Answer.", inputs[i], gold[i]});
  TextWorkload<double> w(gpt, Stream{"tiny", {Task{spec, test, {}, test}}});
  NoGrad no_graph;
  int hits = 0;
  for (const Example& ex : test) hits += most_likely_label(*gpt, ex, spec) == ex.output ? 1 : 0;
  CHECK(w.score(0, Split::test) == Approx(100.0 * hits / 6.0));
  // A stream whose test outputs are the model's own choices scores 100.
  std::vector<Example> chosen;
  for (const Example& ex : test) chosen.push_back({ex.instruction, ex.input, most_likely_label(*gpt, ex, spec)});
  TextWorkload<double> agreeing(gpt, Stream{"tiny", {Task{spec, chosen, {}, chosen}}});
  CHECK(agreeing.score(0, Split::test) == Approx(100.0));
}
