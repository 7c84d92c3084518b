// everlora — GPT: a byte-level decoder-only transformer (GPT-2's architecture).
//   ids [B, T] → wte(ids) + wpe(positions) → blocks (pre-LN) → ln_f → head → logits [B, T, V]
// Learned positions, an untied head (no bias), GPT-2 initialisation: weights N(0, 0.02), the
// residual projections (attn.o, mlp.fc2) N(0, 0.02/√(2·layers)), biases 0, LayerNorm (1, 0).
// Parameter paths: wte.weight, wpe.weight, blocks.<i>.{ln1,attn.{q,k,v,o},ln2,mlp.{fc1,fc2}}.*,
// ln_f.*, head.weight.
#ifndef EVERLORA_NN_GPT_HPP
#define EVERLORA_NN_GPT_HPP

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "everlora/nn/embedding.hpp"
#include "everlora/nn/transformer_block.hpp"

namespace everlora {

/// Shape of a GPT. The defaults are a small byte-level model that pretrains in minutes on 2 cores.
struct GPTConfig {
  Index vocab_size = 260;  // 256 byte values + 4 special ids (data/byte_tokenizer.hpp)
  Index context = 256;     // longest sequence (learned positions)
  Index d_model = 256;
  int n_layers = 4;
  int n_heads = 4;
  Index ffn_mult = 4;      // MLP hidden width = ffn_mult · d_model
  double dropout = 0.0;
  std::uint64_t seed = 0;  // initialisation and dropout masks

  /// Throws Error(config) naming the first bad field.
  void validate() const {
    auto need = [](bool ok, const std::string& what) {
      if (!ok) throw Error(ErrorKind::config, "GPTConfig: " + what);
    };
    need(vocab_size >= 2, "vocab_size must be >= 2, got " + std::to_string(vocab_size));
    need(context >= 1, "context must be >= 1, got " + std::to_string(context));
    need(n_layers >= 1, "n_layers must be >= 1, got " + std::to_string(n_layers));
    need(n_heads >= 1 && d_model % n_heads == 0,
         "n_heads = " + std::to_string(n_heads) + " must divide d_model = " + std::to_string(d_model));
    need(ffn_mult >= 1, "ffn_mult must be >= 1");
    need(dropout >= 0.0 && dropout < 1.0, "dropout must be in [0, 1)");
  }
};

template <class T>
class GPT : public CausalLM<T> {
 public:
  explicit GPT(const GPTConfig& config) : config_(config) {
    config.validate();
    Rng rng(config.seed);
    this->register_module("wte", wte_, std::make_shared<Embedding<T>>(config.vocab_size, config.d_model, rng));
    this->register_module("wpe", wpe_, std::make_shared<Embedding<T>>(config.context, config.d_model, rng));
    this->register_module("blocks", blocks_, std::make_shared<ModuleList<T, TransformerBlock<T>>>());
    for (int i = 0; i < config.n_layers; ++i)
      blocks_->push_back(std::make_shared<TransformerBlock<T>>(
          config.d_model, config.n_heads, config.ffn_mult * config.d_model, config.dropout,
          config.seed + 1000 + static_cast<std::uint64_t>(i), rng));
    this->register_module("ln_f", ln_f_, std::make_shared<LayerNorm<T>>(config.d_model));
    this->register_module("head", head_, std::make_shared<Linear<T>>(config.d_model, config.vocab_size, false, rng));
    init_gpt2(rng);
  }
  const char* type_name() const override { return "GPT"; }
  const GPTConfig& config() const { return config_; }

  /// ids (B·T values, row-major [B, T]) → the final hidden states [B, T, C] (forward: the logits).
  Tensor<T> hidden_states(const std::vector<std::int32_t>& ids, Index batch, Index length,
                          KvCache<T>* cache = nullptr, std::vector<Tensor<T>>* block_outputs = nullptr) override {
    const Index start = cache ? cache->length : 0;
    if (batch < 1 || length < 1 || static_cast<Index>(ids.size()) != batch * length)
      throw Error(ErrorKind::shape, "GPT::forward: " + std::to_string(ids.size()) +
                                        " ids do not form [B, T] = [" + std::to_string(batch) +
                                        ", " + std::to_string(length) + "]");
    if (start + length > config_.context)
      throw Error(ErrorKind::shape, "GPT::forward: positions up to " +
                                        std::to_string(start + length) + " exceed the context of " +
                                        std::to_string(config_.context));
    if (cache && cache->keys.size() != blocks_->size()) *cache = KvCache<T>(blocks_->size());
    std::vector<std::int32_t> positions(ids.size());  // [B, T]: every row counts start, start+1, …
    for (std::size_t i = 0; i < positions.size(); ++i)
      positions[i] = static_cast<std::int32_t>(start + static_cast<Index>(i) % length);
    Tensor<T> x = wte_->forward(ids, {batch, length}) + wpe_->forward(positions, {batch, length});
    if (block_outputs) block_outputs->clear();
    for (std::size_t i = 0; i < blocks_->size(); ++i) {
      x = (*blocks_)[i].forward(x, cache, i);
      if (block_outputs) block_outputs->push_back(x);
    }
    if (cache) cache->length += length;
    return ln_f_->forward(x);
  }
  Tensor<T> head(const Tensor<T>& hidden) override { return head_->forward(hidden); }

  Index context() const override { return config_.context; }
  Index vocab_size() const override { return config_.vocab_size; }
  Index num_blocks() const override { return config_.n_layers; }
  Tensor<T>& token_embedding() override { return wte_->weight(); }

  ModuleList<T, TransformerBlock<T>>& blocks() { return *blocks_; }
  Embedding<T>& wte() { return *wte_; }
  Linear<T>& head() { return *head_; }

 private:
  void init_gpt2(Rng& rng) {
    const double std_dev = 0.02;
    const double residual_std = std_dev / std::sqrt(2.0 * config_.n_layers);
    auto fill_normal = [&rng](Tensor<T>& w, double s) {
      for (Index i = 0; i < w.numel(); ++i) w[i] = static_cast<T>(rng.normal(0.0, s));
    };
    auto ends_with = [](const std::string& path, const std::string& tail) {
      return path.size() >= tail.size() && path.compare(path.size() - tail.size(), tail.size(), tail) == 0;
    };
    for (auto& [path, module] : this->named_modules()) {  // LayerNorms keep (1, 0)
      if (auto* linear = dynamic_cast<Linear<T>*>(module)) {
        const bool residual = ends_with(path, "attn.o") || ends_with(path, "mlp.fc2");
        fill_normal(linear->weight(), residual ? residual_std : std_dev);
        if (linear->has_bias()) linear->bias().vec().setZero();
      } else if (auto* table = dynamic_cast<Embedding<T>*>(module)) {
        fill_normal(table->weight(), std_dev);
      }
    }
  }

  GPTConfig config_;
  std::shared_ptr<Embedding<T>> wte_, wpe_;
  std::shared_ptr<ModuleList<T, TransformerBlock<T>>> blocks_;
  std::shared_ptr<LayerNorm<T>> ln_f_;
  std::shared_ptr<Linear<T>> head_;
};

}  // namespace everlora

#endif  // EVERLORA_NN_GPT_HPP
