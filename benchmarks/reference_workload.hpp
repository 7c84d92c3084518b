// everlora benchmarks — the reference LoRA workload of BENCHMARKS.md (shared/bench/torch_lora_ref.py):
// a byte-level GPT (vocab 256, d_model 512, 4 layers, 8 heads, sequence 128, batch 8 = 1024 tokens
// a step) with its base frozen and LoRA r = 8, α = 16 on q, k, v, o, fc1, fc2. lora_step and
// cl_scaling build their models from it.
#ifndef EVERLORA_BENCHMARKS_REFERENCE_WORKLOAD_HPP
#define EVERLORA_BENCHMARKS_REFERENCE_WORKLOAD_HPP

#include <string>
#include <vector>

#include "everlora/adapters.hpp"

namespace bench {

struct ReferenceWorkload {
  everlora::Index batch = 8, seq = 128, d = 512, layers = 4, heads = 8, rank = 8;
  double alpha = 16;

  /// The quick variant (--quick): the same shape of work, tiny.
  static ReferenceWorkload quick() {
    ReferenceWorkload w;
    w.batch = 2, w.seq = 32, w.d = 64, w.heads = 4;
    return w;
  }
  everlora::Index tokens() const { return batch * seq; }
  everlora::GPTConfig gpt() const {
    everlora::GPTConfig config;
    config.vocab_size = 256;
    config.context = seq;
    config.d_model = d;
    config.n_layers = int(layers);
    config.n_heads = int(heads);
    return config;
  }
  everlora::LoraConfig lora() const {
    everlora::LoraConfig config;
    config.r = rank;
    config.alpha = alpha;
    config.target_modules = {"q", "k", "v", "o", "fc1", "fc2"};
    return config;
  }
  /// Random ids of one batch, and as targets the ids shifted by one.
  void tokens(everlora::Rng& rng, std::vector<std::int32_t>& ids, std::vector<std::int32_t>& targets) const {
    ids.assign(static_cast<std::size_t>(tokens()), 0);
    targets.assign(ids.size(), 0);
    for (auto& id : ids) id = static_cast<std::int32_t>(rng.below(256));
    for (std::size_t i = 0; i < ids.size(); ++i) targets[i] = ids[(i + 1) % ids.size()];
  }
};

/// Experts "task0" … "task<count−1>" in every targeted layer, as earlier tasks left them: frozen,
/// with a non-zero B.
inline void add_earlier_experts(everlora::GPT<float>& model, const everlora::LoraConfig& lora, everlora::Index count,
                                everlora::Rng& rng) {
  for (everlora::Index e = 0; e < count; ++e) {
    const std::string name = "task" + std::to_string(e);
    everlora::attach(model, lora, name);
    for (auto& [path, layer] : everlora::adapted_layers(model)) {
      auto& expert = layer->experts().get(name);
      expert.b().vec() = everlora::Tensor<float>::normal(expert.b().shape(), rng, 0.0f, 0.02f).vec();
      expert.set_trainable(false);
    }
  }
}

/// Top-1 routing with a fixed rule, as MoA's inference routes: example b goes to expert b mod K,
/// weight 1 (with K = 1 every weight is 1).
class RoundRobinRouter : public everlora::ExampleRouter<float> {
 public:
  explicit RoundRobinRouter(everlora::Index experts) : experts_(experts) {}
  const char* type_name() const override { return "RoundRobinRouter"; }
  everlora::Index num_experts() const override { return experts_; }
  everlora::Tensor<float> compute(const everlora::RoutingInput<float>& input) override {
    everlora::Tensor<float> w = everlora::Tensor<float>::zeros({input.examples(), experts_});
    for (everlora::Index b = 0; b < input.examples(); ++b) w[b * experts_ + b % experts_] = 1.0f;
    return w;
  }

 private:
  everlora::Index experts_;
};

}  // namespace bench

#endif  // EVERLORA_BENCHMARKS_REFERENCE_WORKLOAD_HPP
