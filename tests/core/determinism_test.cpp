// Same seed and thread count → bitwise-identical results; reductions do not even depend on the
// thread count. Also checks that set_num_threads reaches OpenMP.
#include <catch2/catch.hpp>

#include "everlora/core.hpp"

using namespace everlora;

namespace {
/// A small training-like step: forward through most op families, backward, return all grads.
std::vector<float> one_step(std::uint64_t seed) {
  Rng rng(seed);
  auto w = Tensor<float>::normal({64, 96}, rng, 0, 0.1f).requires_grad_();
  auto table = Tensor<float>::normal({50, 64}, rng, 0, 1).requires_grad_();
  auto ln_w = Tensor<float>::ones({64}).requires_grad_();
  auto ln_b = Tensor<float>::zeros({64}).requires_grad_();
  std::vector<std::int32_t> ids(4 * 16);
  for (auto& id : ids) id = static_cast<std::int32_t>(rng.below(50));
  auto x = layer_norm(embedding(table, ids, {4, 16}), ln_w, ln_b);
  auto qkv = matmul(x, w);
  auto att = causal_attention(slice(qkv, 2, 0, 32), slice(qkv, 2, 32, 64), slice(qkv, 2, 64, 96), 4);
  auto logits = matmul_nt(dropout(gelu(att), 0.1, rng), slice(table, 1, 0, 32));
  std::vector<std::int32_t> targets(ids.begin(), ids.end());
  auto loss = cross_entropy(logits, targets) + mean(sum(abs(att), -1));
  loss.backward();
  std::vector<float> out = w.grad().to_vector();
  for (const auto* t : {&table, &ln_w, &ln_b}) {
    auto g = t->grad().to_vector();
    out.insert(out.end(), g.begin(), g.end());
  }
  out.push_back(loss.item());
  return out;
}
}  // namespace

TEST_CASE("the same seed and thread count give bitwise-identical results", "[core][determinism]") {
  const auto first = one_step(11);
  const auto second = one_step(11);
  REQUIRE(first.size() == second.size());
  CHECK(first == second);  // exact equality, not approximate
  CHECK(one_step(12) != first);
}

TEST_CASE("reductions give the same bits on one thread and on all threads", "[core][determinism]") {
  Rng rng(4);
  auto x = Tensor<float>::normal({300, 700}, rng, 0, 1);
  const int threads = num_threads();
  set_num_threads(1);
  const float total_1 = sum(x).item();
  const auto cols_1 = sum(x, 0).to_vector();
  const auto rows_1 = sum(x, 1).to_vector();
  set_num_threads(std::max(2, threads));
  CHECK(sum(x).item() == total_1);
  CHECK(sum(x, 0).to_vector() == cols_1);
  CHECK(sum(x, 1).to_vector() == rows_1);
  set_num_threads(threads);
}

TEST_CASE("set_num_threads controls the thread count", "[core][parallel]") {
  const int before = num_threads();
  set_num_threads(1);
  CHECK(num_threads() == 1);
  Index calls = 0;
  parallel_for(1000, 1, [&](Index b, Index e) { calls += (b == 0 && e == 1000); });
  CHECK(calls == 1);  // one thread: one chunk covering everything
  set_num_threads(before);
  CHECK(num_threads() == before);
}
