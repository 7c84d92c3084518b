// everlora — DecoderLM: one config-driven model for the decoder family (Llama, Mistral, Qwen2,
// Qwen3, GPT-2), laid out and named as transformers' *ForCausalLM classes, so that a Hugging Face
// checkpoint loads by name (io/hf_model.hpp) and PEFT's keys come out right:
//   Llama family: model.embed_tokens, model.layers.<i>.…, model.norm, lm_head
//   GPT-2:        transformer.wte, transformer.wpe, transformer.h.<i>.…, transformer.ln_f, lm_head
// With tied embeddings there is no lm_head: the logits are h·Eᵀ with E the token embeddings.
// Random initialisation follows transformers' _init_weights: N(0, initializer_range) for linear
// weights and embeddings, zero biases, norms at (1, 0).
#ifndef EVERLORA_NN_DECODER_HPP
#define EVERLORA_NN_DECODER_HPP

#include <memory>
#include <string>
#include <vector>

#include "everlora/core/ops/embedding.hpp"
#include "everlora/core/ops/matmul.hpp"
#include "everlora/nn/decoder_block.hpp"
#include "everlora/nn/embedding.hpp"

namespace everlora {

/// The transformer below the head: embeddings, blocks and the final norm ("model" in the Llama
/// family, "transformer" in GPT-2).
template <class T>
class DecoderBody : public Module<T> {
 public:
  explicit DecoderBody(const DecoderConfig& c) {
    const bool gpt2 = c.gpt2();
    this->register_module(gpt2 ? "wte" : "embed_tokens", embed_, std::make_shared<Embedding<T>>(detail::zero_matrix<T>({c.vocab_size, c.hidden_size}, c)));
    if (gpt2)
      this->register_module("wpe", positions_, std::make_shared<Embedding<T>>(detail::zero_matrix<T>({c.max_position_embeddings, c.hidden_size}, c)));
    this->register_module(gpt2 ? "h" : "layers", layers_, std::make_shared<ModuleList<T, DecoderBlock<T>>>());
    for (int i = 0; i < c.num_hidden_layers; ++i) layers_->push_back(std::make_shared<DecoderBlock<T>>(c));
    if (gpt2)
      this->register_module("ln_f", layer_norm_, std::make_shared<LayerNorm<T>>(c.hidden_size, static_cast<T>(c.norm_eps)));
    else
      this->register_module("norm", rms_norm_, std::make_shared<RMSNorm<T>>(c.hidden_size, static_cast<T>(c.norm_eps)));
  }
  const char* type_name() const override { return "DecoderBody"; }

  Embedding<T>& embed() { return *embed_; }
  Embedding<T>* positions() { return positions_.get(); }
  ModuleList<T, DecoderBlock<T>>& layers() { return *layers_; }
  Tensor<T> final_norm(const Tensor<T>& x) const { return rms_norm_ ? rms_norm_->forward(x) : layer_norm_->forward(x); }

 private:
  std::shared_ptr<Embedding<T>> embed_, positions_;
  std::shared_ptr<ModuleList<T, DecoderBlock<T>>> layers_;
  std::shared_ptr<RMSNorm<T>> rms_norm_;
  std::shared_ptr<LayerNorm<T>> layer_norm_;
};

template <class T>
class DecoderLM : public CausalLM<T> {
 public:
  /// A model of `config`'s shape, initialised from config.seed; with `initialise` false its
  /// weights stay zero (norms one) for a checkpoint to fill (load_hf_model).
  explicit DecoderLM(const DecoderConfig& config, bool initialise = true) : config_(config) {
    config.validate();
    this->register_module(config.gpt2() ? "transformer" : "model", body_, std::make_shared<DecoderBody<T>>(config));
    if (!config.tie_word_embeddings)
      this->register_module("lm_head", lm_head_, detail::zero_linear<T>(config.hidden_size, config.vocab_size, false, config));
    inverse_frequencies_ = rope_inverse_frequencies(config.head_dim, config.rope_theta, config.rope_scaling);
    if (initialise) initialise_weights();
  }
  const char* type_name() const override { return "DecoderLM"; }
  const DecoderConfig& config() const { return config_; }

  Tensor<T> hidden_states(const std::vector<std::int32_t>& ids, Index batch, Index length, KvCache<T>* cache = nullptr,
                          std::vector<Tensor<T>>* block_outputs = nullptr) override {
    const Index start = cache ? cache->length : 0;
    if (batch < 1 || length < 1 || static_cast<Index>(ids.size()) != batch * length)
      throw Error(ErrorKind::shape, "DecoderLM::forward: " + std::to_string(ids.size()) + " ids do not form [B, T] = [" +
                                        std::to_string(batch) + ", " + std::to_string(length) + "]");
    if (start + length > context())
      throw Error(ErrorKind::shape, "DecoderLM::forward: positions up to " + std::to_string(start + length) +
                                        " exceed max_position_embeddings = " + std::to_string(context()));
    auto& layers = body_->layers();
    if (cache && cache->keys.size() != layers.size()) *cache = KvCache<T>(layers.size());
    Tensor<T> x = body_->embed().forward(ids, {batch, length});
    RopeTables<T> tables;
    if (Embedding<T>* wpe = body_->positions()) {
      std::vector<std::int32_t> positions(ids.size());
      for (std::size_t i = 0; i < positions.size(); ++i) positions[i] = static_cast<std::int32_t>(start + static_cast<Index>(i) % length);
      x = x + wpe->forward(positions, {batch, length});
    } else {
      tables = rope_angles<T>(inverse_frequencies_, start, length);  // once for every layer
    }
    if (block_outputs) block_outputs->clear();
    for (std::size_t i = 0; i < layers.size(); ++i) {
      x = layers[i].forward(x, tables, cache, i);
      if (block_outputs) block_outputs->push_back(x);
    }
    if (cache) cache->length += length;
    return body_->final_norm(x);
  }
  Tensor<T> head(const Tensor<T>& hidden) override {
    return lm_head_ ? lm_head_->forward(hidden) : matmul_nt(hidden, body_->embed().weight());
  }

  Index context() const override { return config_.max_position_embeddings; }
  Index vocab_size() const override { return config_.vocab_size; }
  Index num_blocks() const override { return config_.num_hidden_layers; }
  Tensor<T>& token_embedding() override { return body_->embed().weight(); }
  DecoderBody<T>& body() { return *body_; }

 private:
  void initialise_weights() {
    Rng rng(config_.seed);
    const double std_dev = config_.initializer_range;
    auto fill_normal = [&rng, std_dev](Tensor<T>& w) {  // a matrix held in bf16 is drawn in float, then rounded
      const bool bf16 = w.held_in_bf16();
      w.hold_in_f32();
      for (Index i = 0; i < w.numel(); ++i) w[i] = static_cast<T>(rng.normal(0.0, std_dev));
      if (bf16) w.hold_in_bf16();
    };
    for (auto& [path, module] : this->named_modules()) {
      if (auto* linear = dynamic_cast<Linear<T>*>(module)) {
        fill_normal(linear->weight());
        if (linear->has_bias()) linear->bias().vec().setZero();
      } else if (auto* table = dynamic_cast<Embedding<T>*>(module)) {
        fill_normal(table->weight());
      }
    }
  }

  DecoderConfig config_;
  std::shared_ptr<DecoderBody<T>> body_;
  std::shared_ptr<Linear<T>> lm_head_;
  std::vector<double> inverse_frequencies_;
};

}  // namespace everlora

#endif  // EVERLORA_NN_DECODER_HPP
