// A model folder loaded with its matrices held in bf16 (HfLoadOptions::bf16_weights): the same
// logits, LoRA loss and LoRA gradients as the float model of its rounded weights, merging and
// saving, half the matrices' memory, and clear errors where a bf16 base cannot go.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "everlora/adapters.hpp"
#include "everlora/io.hpp"
#include "io_support.hpp"

using namespace everlora;
using everlora_test::TempDir;

namespace {

std::string bf16_fixture(const std::string& family) { return std::string(EVERLORA_TEST_FIXTURES_DIR) + "/models/" + family; }

/// The float model of `family` with every matrix rounded to bf16, as the bf16 model holds it.
std::shared_ptr<DecoderLM<float>> rounded_float_model(const std::string& family) {
  auto model = load_hf_model<float>(bf16_fixture(family));
  for (auto& [name, p] : model->named_parameters())
    if (p.rank() == 2) p.requires_grad_(false).hold_in_bf16().hold_in_f32();
  return model;
}

std::vector<std::int32_t> bf16_test_ids(Index vocab, Index count) {
  std::vector<std::int32_t> ids;
  for (Index i = 0; i < count; ++i) ids.push_back(static_cast<std::int32_t>((i * 7919 + 13) % vocab));
  return ids;
}

/// Gives every LoRA B a nonzero value (B starts at zero), the same in every model.
void fill_lora_b(DecoderLM<float>& model) {
  for (auto& [name, p] : model.named_parameters())
    if (name.find(".lora_B") != std::string::npos)
      for (Index i = 0; i < p.numel(); ++i) p[i] = 0.02f * static_cast<float>(i % 7 - 3);
}

double relative_gap(const Tensor<float>& a, const Tensor<float>& b) {
  REQUIRE(a.shape() == b.shape());
  double worst = 0;
  for (Index i = 0; i < a.numel(); ++i)
    worst = std::max(worst, std::abs(double(a[i]) - double(b[i])) / std::max(1.0, std::abs(double(b[i]))));
  return worst;
}

}  // namespace

TEST_CASE("bf16 weights: a folder loaded in bf16 gives the float model's logits, LoRA loss and gradients on its rounded weights", "[io][hf_model][bf16]") {
  const Bf16ProductsScope exact(Bf16Products::exact);  // the products on the bf16 values in float
  for (const std::string family : {"llama", "qwen2", "qwen3", "gpt2", "gpt2-vocab"}) {
    INFO(family);
    auto half = load_hf_model<float>(bf16_fixture(family), {/*bf16_weights=*/true});
    auto full = rounded_float_model(family);
    for (auto& [name, p] : half->named_parameters()) {
      INFO(name);
      CHECK(p.held_in_bf16() == (p.rank() == 2));
      CHECK(p.requires_grad() == (p.rank() != 2));
    }
    const Index batch = 2, length = 6;
    const std::vector<std::int32_t> ids = bf16_test_ids(half->vocab_size(), batch * length);
    {
      NoGrad no_graph;
      CHECK(relative_gap(half->forward(ids, batch, length), full->forward(ids, batch, length)) < 1e-5);
    }
    LoraConfig lora;
    lora.r = 4;
    lora.target_modules = half->config().projection_names();
    attach(*half, lora);
    attach(*full, lora);
    fill_lora_b(*half);
    fill_lora_b(*full);
    std::vector<std::int32_t> targets(ids.begin() + 1, ids.end());
    targets.push_back(kIgnoreIndex);
    Tensor<float> loss_half = cross_entropy(reshape(half->forward(ids, batch, length), {batch * length, half->vocab_size()}), targets);
    Tensor<float> loss_full = cross_entropy(reshape(full->forward(ids, batch, length), {batch * length, full->vocab_size()}), targets);
    CHECK(loss_half.item() == Approx(loss_full.item()).epsilon(1e-5));
    loss_half.backward();
    loss_full.backward();
    const auto full_params = full->named_parameters();
    std::size_t compared = 0;
    for (const auto& [name, p] : half->named_parameters()) {
      if (!p.requires_grad()) continue;
      INFO(name);
      const auto match = std::find_if(full_params.begin(), full_params.end(), [&](const auto& q) { return q.first == name; });
      REQUIRE(match != full_params.end());
      if (name.find(".experts.") != std::string::npos) {
        CHECK(relative_gap(p.grad(), match->second.grad()) < 1e-4);
        ++compared;
      }
    }
    CHECK(compared > 0);
  }
}

TEST_CASE("bf16 weights: fast products (the default) stay within bf16's rounding of the float model", "[io][hf_model][bf16]") {
  // On bf16 instructions the activations entering each product are rounded to bf16 too (8 bits
  // of mantissa, 0.4% apart); through the products of the tiny random fixtures the logits move
  // by up to 4%, the loss by far less.
  REQUIRE(bf16_products() == Bf16Products::fast);
  for (const std::string family : {"llama", "qwen3", "gpt2"}) {
    INFO(family << ", products on " << bf16_products_backend());
    auto half = load_hf_model<float>(bf16_fixture(family), {/*bf16_weights=*/true});
    auto full = rounded_float_model(family);
    const Index batch = 2, length = 6;
    const std::vector<std::int32_t> ids = bf16_test_ids(half->vocab_size(), batch * length);
    std::vector<std::int32_t> targets(ids.begin() + 1, ids.end());
    targets.push_back(kIgnoreIndex);
    NoGrad no_graph;
    const Tensor<float> logits_half = half->forward(ids, batch, length), logits_full = full->forward(ids, batch, length);
    CHECK(relative_gap(logits_half, logits_full) < 6e-2);
    const float loss_half = cross_entropy(reshape(logits_half, {batch * length, half->vocab_size()}), targets).item();
    const float loss_full = cross_entropy(reshape(logits_full, {batch * length, full->vocab_size()}), targets).item();
    CHECK(loss_half == Approx(loss_full).epsilon(1e-2));
  }
}

TEST_CASE("bf16 weights: the matrices take half the memory, and merge_and_unload then save_hf_model round-trip", "[io][hf_model][bf16]") {
  const Bf16ProductsScope exact(Bf16Products::exact);  // the round-trip is compared bit-close
  auto half = load_hf_model<float>(bf16_fixture("llama"), {/*bf16_weights=*/true});
  auto full = load_hf_model<float>(bf16_fixture("llama"));
  const auto bytes = [](DecoderLM<float>& m) {
    std::size_t total = 0;
    for (const auto& [name, p] : m.named_parameters()) total += static_cast<std::size_t>(p.numel()) * (p.held_in_bf16() ? 2 : 4);
    return total;
  };
  CHECK(double(bytes(*half)) < 0.52 * double(bytes(*full)));

  LoraConfig lora;
  lora.r = 4;
  lora.target_modules = {"q_proj", "down_proj"};
  attach(*half, lora);
  fill_lora_b(*half);
  const std::vector<std::int32_t> ids = bf16_test_ids(half->vocab_size(), 8);
  NoGrad no_graph;
  const Tensor<float> adapted = half->forward(ids, 1, 8);
  merge_and_unload(*half);
  for (const auto& [name, p] : half->named_parameters()) CHECK(p.held_in_bf16() == (p.rank() == 2));
  const Tensor<float> merged = half->forward(ids, 1, 8);
  CHECK(relative_gap(merged, adapted) < 2e-2);  // the merged weights are rounded to bf16 again
  TempDir out;
  save_hf_model(*half, out.path(), {"bfloat16"});
  auto again = load_hf_model<float>(out.path());
  CHECK(relative_gap(again->forward(ids, 1, 8), merged) < 1e-5);
}

TEST_CASE("bf16 weights: a double model, or unfreezing the bf16 base, is a clear error", "[io][hf_model][bf16][errors]") {
  CHECK_THROWS_WITH(load_hf_model<double>(bf16_fixture("llama"), {/*bf16_weights=*/true}),
                    Catch::Contains("bf16_weights") && Catch::Contains("not a double"));
  auto half = load_hf_model<float>(bf16_fixture("qwen2"), {/*bf16_weights=*/true});
  CHECK_THROWS_WITH(half->unfreeze(), Catch::Contains("held in bf16"));
}

TEST_CASE("bf16 weights: a PEFT adapter trained on a bf16 base of a BF16 checkpoint loads onto the float model", "[io][hf_model][bf16]") {
  const Bf16ProductsScope exact(Bf16Products::exact);  // compared with the float model bit-close
  auto half = load_hf_model<float>(bf16_fixture("llama"), {/*bf16_weights=*/true});  // stored as BF16
  LoraConfig lora;
  lora.r = 2;
  lora.target_modules = half->config().projection_names();
  attach(*half, lora);
  fill_lora_b(*half);
  TempDir dir;
  PeftSaveOptions peft;
  peft.config = lora;
  peft.task_type = "CAUSAL_LM";
  save_peft_adapter(*half, dir.path(), "default", {}, peft);
  auto full = load_hf_model<float>(bf16_fixture("llama"));
  load_peft_adapter(*full, dir.path());  // the base fingerprints agree: the same values
  const std::vector<std::int32_t> ids = bf16_test_ids(half->vocab_size(), 6);
  NoGrad no_graph;
  CHECK(relative_gap(full->forward(ids, 1, 6), half->forward(ids, 1, 6)) < 1e-5);
}
