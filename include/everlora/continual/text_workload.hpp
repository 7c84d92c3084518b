// everlora — TextWorkload<T>: a stream of text tasks (data/stream.hpp) on a causal language model:
// the byte-level GPT with the byte codec, or a Llama/Qwen/GPT-2 DecoderLM with its own tokenizer
// (data/text_codec.hpp). Training: prompt → output cast as generation, cross-entropy on the output
// tokens only (data/prompt.hpp). Scoring (percent):
//   exact-match tasks  greedy decoding from the prompt until end-of-sequence, compared with the
//                      gold output after trimming and lower-casing (BENCHMARKS.md);
//   rank tasks         the label whose answer (its tokens as training targets them, end of
//                      sequence included) has the highest summed log-likelihood after the prompt;
//   next_byte tasks    teacher-forced accuracy of the argmax next token (a byte, with the byte
//                      codec) over every position.
// Every example is encoded once, at construction.
#ifndef EVERLORA_CONTINUAL_TEXT_WORKLOAD_HPP
#define EVERLORA_CONTINUAL_TEXT_WORKLOAD_HPP

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "everlora/continual/workload.hpp"
#include "everlora/core/ops/embedding.hpp"
#include "everlora/core/ops/loss.hpp"
#include "everlora/core/ops/shape_ops.hpp"
#include "everlora/data/text_codec.hpp"
#include "everlora/data/prompt.hpp"
#include "everlora/nn/generate.hpp"
#include "everlora/nn/causal_lm.hpp"

namespace everlora {

struct TextWorkloadOptions {
  Index max_len = 0;     ///< longest encoded example; 0: the model's context
  Index eval_limit = 0;  ///< score at most this many examples per split (limited_examples); 0: all
  Index eval_batch = 16; ///< sequences per forward pass when scoring next_byte and rank tasks (fewer
                         ///< when their logits would pass kEvalLogits values: large vocabularies)
};

template <class T>
class TextWorkload : public Workload<T> {
 public:
  /// `codec` turns text into the model's ids: the byte codec for everlora's GPT, the model's
  /// tokenizer for a DecoderLM (TextCodec::from_tokenizer). Throws Error(config) when the codec's
  /// ids do not fit the model's vocabulary.
  TextWorkload(std::shared_ptr<CausalLM<T>> model, Stream stream, TextWorkloadOptions options = {},
               TextCodec codec = TextCodec::bytes())
      : model_(std::move(model)), stream_(std::move(stream)), options_(options), codec_(std::move(codec)) {
    if (!model_) throw Error(ErrorKind::value, "TextWorkload: no model");
    if (stream_.tasks.empty()) throw Error(ErrorKind::value, "TextWorkload: stream '" + stream_.name + "' has no tasks");
    if (codec_.vocab_size() > model_->vocab_size())
      throw Error(ErrorKind::config, "TextWorkload: the tokenizer has " + std::to_string(codec_.vocab_size()) +
                                         " ids but the model's vocabulary only " + std::to_string(model_->vocab_size()));
    if (options_.max_len <= 0 || options_.max_len > model_->context()) options_.max_len = model_->context();
    for (const Task& task : stream_.tasks) {
      std::vector<EncodedExample> encoded;
      encoded.reserve(task.train.size());
      for (const Example& ex : task.train) encoded.push_back(encode_example(ex, task.spec, options_.max_len, codec_));
      train_.push_back(std::move(encoded));
    }
  }

  Module<T>& model() override { return *model_; }
  CausalLM<T>& lm() { return *model_; }
  const TextCodec& codec() const { return codec_; }
  const Stream& stream() const { return stream_; }
  /// Scores at most `limit` examples per split from now on (0: all).
  void set_eval_limit(Index limit) { options_.eval_limit = std::max<Index>(0, limit); }
  Index num_tasks() const override { return static_cast<Index>(stream_.tasks.size()); }
  std::string task_name(Index task) const override { return stream_.tasks.at(static_cast<std::size_t>(task)).spec.name; }
  Index train_size(Index task) const override { return static_cast<Index>(train_.at(static_cast<std::size_t>(task)).size()); }
  std::string score_name() const override { return "exact match / rank / next-token accuracy %"; }

  Tensor<T> loss(const std::vector<ExampleRef>& batch) override { return batch_loss(batch, nullptr); }
  /// The hidden state after every transformer block, [batch·seq, d_model] each (padding zeroed).
  Tensor<T> loss_with_features(const std::vector<ExampleRef>& batch, BlockFeatures<T>& features) override {
    return batch_loss(batch, &features);
  }

  double score(Index task, Split split) override { return score_part(task, split, {}).percent(); }
  bool supports_shards() const override { return true; }
  /// Exact-match hits out of examples, or correct next bytes out of bytes, on `part`'s range of
  /// the split's scored examples (limited_examples: at most eval_limit, the labels in turn).
  ScoreTally score_part(Index task, Split split, const BatchShard& part) override {
    const Task& t = stream_.tasks.at(static_cast<std::size_t>(task));
    const std::vector<Example> all = limited_examples(examples(task, split), options_.eval_limit);
    const Index count = static_cast<Index>(all.size());
    if (count == 0) throw Error(ErrorKind::value, "TextWorkload::score: task '" + t.spec.name + "' has no examples in that split");
    const auto [begin, end] = part.range(count);
    const std::vector<Example> mine(all.begin() + begin, all.begin() + end);
    if (mine.empty()) return {};
    switch (t.spec.metric) {
      case TaskMetric::next_byte: return next_byte_tally(t.spec, mine);
      case TaskMetric::rank: return rank_tally(t.spec, mine);
      case TaskMetric::exact_match: break;
    }
    return exact_match_tally(t.spec, mine);
  }

  /// The model's greedy answer to one example's prompt (decoded text, before normalisation).
  std::string answer(const Example& ex, const TaskSpec& spec) {
    Index longest = static_cast<Index>(codec_.encode(codec_.answer_prefix() + ex.output).size());
    for (const auto& label : spec.labels)
      longest = std::max<Index>(longest, static_cast<Index>(codec_.encode(codec_.answer_prefix() + label).size()));
    const Index budget = longest + 1;  // room to say one token too much, then stop
    const std::vector<std::int32_t> prompt = encode_prompt(ex, spec, options_.max_len - budget, codec_);
    GenerateOptions greedy;
    greedy.greedy = true;
    greedy.max_new_tokens = budget;
    greedy.stop_id = codec_.eos();
    Rng unused(0);
    const RoutedForward<T> routed(this->router(), 1, [&] { return prompts_routing_input({routing_ids(ex, spec)}, this->routing_layer()); });
    return codec_.decode(generate(*model_, prompt, greedy, unused));
  }

  Index split_size(Index task, Split split) const override { return static_cast<Index>(examples(task, split).size()); }
  /// Each example's prompt ([BOS] + the formatted prompt + [separator]; a next_byte example's
  /// whole text) as token embeddings, or as the base model's state after block
  /// router->input_layer().
  RoutingInput<T> routing_input(const std::vector<ExampleRef>& refs, Split split, Index layer) override {
    std::vector<std::vector<std::int32_t>> prompts;
    for (const ExampleRef& ref : refs)
      prompts.push_back(routing_ids(examples(ref.task, split).at(static_cast<std::size_t>(ref.index)),
                                    stream_.tasks.at(static_cast<std::size_t>(ref.task)).spec));
    return prompts_routing_input(prompts, layer);
  }

  bool can_generate_inputs() const override { return true; }
  /// Pseudo inputs of `task` (SAPT's attentive reflection): for each, the model samples an input
  /// (temperature 1, until a newline, at most kPseudoInputBytes or half the context) after the
  /// prompt head of a random training example, "<instruction>\n[Options: …\n]Input: " (its start
  /// cut if the context needs it); the pseudo example (that instruction, the sampled input) is
  /// then encoded as a prompt like any other.
  RoutingInput<T> generated_routing_input(Index task, Index count, Rng& rng, Index layer) override {
    const Task& t = stream_.tasks.at(static_cast<std::size_t>(task));
    if (t.train.empty()) throw Error(ErrorKind::value, "TextWorkload: task '" + t.spec.name + "' has no training examples to prompt with");
    GenerateOptions sample;
    sample.max_new_tokens = std::min<Index>(kPseudoInputBytes, options_.max_len / 2);
    sample.stop_id = codec_.single_token("\n").value_or(-1);
    std::vector<std::vector<std::int32_t>> prompts;
    for (Index i = 0; i < count; ++i) {
      Example pseudo{t.train[static_cast<std::size_t>(rng.below(t.train.size()))].instruction, "", ""};
      std::vector<std::int32_t> head;
      if (const auto bos = codec_.bos()) head.push_back(*bos);
      if (t.spec.metric != TaskMetric::next_byte) {  // the head's end, as much as leaves room to sample
        std::string text = format_prompt(pseudo, t.spec);
        text.resize(text.size() - std::string("\nOutput:").size());
        const std::vector<std::int32_t> tokens = codec_.encode(text);
        const std::size_t keep = std::min<std::size_t>(tokens.size(), static_cast<std::size_t>(options_.max_len - sample.max_new_tokens - 1));
        head.insert(head.end(), tokens.end() - static_cast<std::ptrdiff_t>(keep), tokens.end());
      }
      if (head.empty()) head = codec_.encode("\n");  // a model without BOS needs something to start from
      const RoutedForward<T> routed(this->router(), 1, [&] { return prompts_routing_input({head}, this->routing_layer()); });
      pseudo.input = codec_.decode(generate(*model_, head, sample, rng));
      pseudo.input = pseudo.input.substr(0, pseudo.input.find('\n'));  // one line, as the stop id gives it
      prompts.push_back(routing_ids(pseudo, t.spec));
    }
    return prompts_routing_input(prompts, layer);
  }
  static constexpr Index kPseudoInputBytes = 64;
  /// The most logits one scoring pass holds (64 Mi values, 256 MB in float).
  static constexpr Index kEvalLogits = Index{1} << 26;

 private:
  std::vector<const EncodedExample*> encoded(const std::vector<ExampleRef>& batch) const {
    std::vector<const EncodedExample*> examples;
    examples.reserve(batch.size());
    for (const ExampleRef& ref : batch)
      examples.push_back(&train_.at(static_cast<std::size_t>(ref.task)).at(static_cast<std::size_t>(ref.index)));
    return examples;
  }

  const std::vector<Example>& examples(Index task, Split split) const {
    const Task& t = stream_.tasks.at(static_cast<std::size_t>(task));
    return split == Split::train ? t.train : split == Split::dev ? t.dev : t.test;
  }

  /// The tokens a router reads of an example: its prompt, or a next_byte example's whole text.
  std::vector<std::int32_t> routing_ids(const Example& ex, const TaskSpec& spec) const {
    return spec.metric == TaskMetric::next_byte ? encode_example(ex, spec, options_.max_len, codec_).ids
                                                : encode_prompt(ex, spec, options_.max_len, codec_);
  }

  /// Prompts (token ids) as a router's input at `layer`: padded to the longest, mask 1 on each
  /// prompt's ids.
  RoutingInput<T> prompts_routing_input(const std::vector<std::vector<std::int32_t>>& prompts, Index layer) {
    NoGrad no_graph;
    const Index batch = static_cast<Index>(prompts.size());
    Index seq = 1;
    for (const auto& p : prompts) seq = std::max<Index>(seq, static_cast<Index>(p.size()));
    std::vector<std::int32_t> ids(static_cast<std::size_t>(batch * seq), codec_.pad());
    Tensor<T> mask = Tensor<T>::zeros({batch, seq});
    for (Index b = 0; b < batch; ++b)
      for (std::size_t i = 0; i < prompts[static_cast<std::size_t>(b)].size(); ++i) {
        ids[static_cast<std::size_t>(b * seq) + i] = prompts[static_cast<std::size_t>(b)][i];
        mask[b * seq + static_cast<Index>(i)] = T(1);
      }
    if (layer == 0) return {embedding(model_->token_embedding(), ids, {batch, seq}), mask};
    if (layer > model_->num_blocks())
      throw Error(ErrorKind::config, "TextWorkload: routing input layer " + std::to_string(layer) + " but the model has " +
                                         std::to_string(model_->num_blocks()) + " blocks");
    const EvalMode<T> eval_mode(*model_);
    std::vector<Tensor<T>> blocks;
    if (this->router()) this->router()->route_to_base(batch);
    model_->forward(ids, batch, seq, nullptr, &blocks);
    if (this->router()) this->router()->clear();
    return {blocks[static_cast<std::size_t>(layer - 1)], mask};
  }

  /// The loss of `whole`, or of this process's part of it (padded to the whole batch's length).
  Tensor<T> batch_loss(const std::vector<ExampleRef>& whole, BlockFeatures<T>* features) {
    const BatchShard& shard = this->shard();
    const std::vector<ExampleRef> batch = shard.whole() ? whole : shard.of(whole);
    const std::vector<const EncodedExample*> part = encoded(batch);
    Index whole_seq = 0;  // a part is padded to the whole batch's length
    if (!shard.whole()) {
      const std::vector<const EncodedExample*> all = encoded(whole);
      for (const EncodedExample* e : all) whole_seq = std::max(whole_seq, static_cast<Index>(e->ids.size()) - 1);
      this->set_shard_weights(shard.weights(count_units(part), count_units(all)));
    }
    const TokenBatch b = make_token_batch(part, whole_seq, codec_.pad());
    const Index rows = b.batch * b.seq;
    const RoutedForward<T> routed(this->router(), b.batch, [&] { return routing_input(batch, Split::train, this->routing_layer()); });
    std::vector<Tensor<T>> block_outputs;
    const ScoredRows scored = scored_rows(b);  // the head runs on the answers' positions alone
    const Tensor<T> logits = model_->forward_at(b.ids, b.batch, b.seq, scored.rows, nullptr, features ? &block_outputs : nullptr);
    if (features) {
      Tensor<T> real = Tensor<T>::empty({rows, 1});  // 1 on the examples' tokens, 0 on padding
      features->rows = 0;
      for (Index i = 0; i < rows; ++i) {
        real[i] = static_cast<T>(b.mask[static_cast<std::size_t>(i)]);
        features->rows += b.mask[static_cast<std::size_t>(i)] > 0 ? 1 : 0;
      }
      features->blocks.clear();
      for (const Tensor<T>& h : block_outputs) features->blocks.push_back(reshape(h, {rows, h.shape().last()}) * real);
    }
    const Tensor<T> loss = cross_entropy(logits, scored.targets);
    const double weight = this->shard_weight(BatchMean::loss_terms);
    return weight == 1.0 ? loss : loss * static_cast<T>(weight);
  }

  /// A batch's target tokens and real rows; its rows counted in examples (a part is padded to
  /// the whole batch's length, so every example has as many rows).
  static BatchCounts count_units(const std::vector<const EncodedExample*>& batch) {
    BatchCounts c{0, 0, static_cast<double>(batch.size())};
    for (const EncodedExample* e : batch) {
      const auto n = static_cast<double>(e->ids.size());
      c.loss_terms += n - static_cast<double>(e->prompt_len);
      c.real_rows += n - 1;
    }
    return c;
  }

  ScoreTally exact_match_tally(const TaskSpec& spec, const std::vector<Example>& examples) {
    ScoreTally tally{0, static_cast<double>(examples.size())};
    for (const Example& ex : examples) tally.hits += exact_match(answer(ex, spec), ex.output) ? 1 : 0;
    return tally;
  }

  /// Rank classification: each example scored with every label as its answer, in batches of whole
  /// examples; a hit when the most likely label is the gold output.
  ScoreTally rank_tally(const TaskSpec& spec, const std::vector<Example>& examples) {
    NoGrad no_graph;
    const EvalMode<T> eval_mode(*model_);
    const std::size_t labels = spec.labels.size();
    std::vector<EncodedExample> encoded;  // example-major: every label of example 0, then of example 1, …
    Index longest_answer = 1;  // the logits held are those of the answers' positions
    for (const Example& ex : examples)
      for (const std::string& label : spec.labels) {
        encoded.push_back(encode_example({ex.instruction, ex.input, label}, spec, options_.max_len, codec_));
        longest_answer = std::max<Index>(longest_answer, static_cast<Index>(encoded.back().ids.size()) - encoded.back().prompt_len);
      }
    const auto per_chunk = static_cast<std::size_t>(std::max<Index>(
        1, std::min<Index>(options_.eval_batch, kEvalLogits / (longest_answer * model_->vocab_size())) / static_cast<Index>(labels)));
    ScoreTally tally{0, static_cast<double>(examples.size())};
    for (std::size_t first = 0; first < examples.size(); first += per_chunk) {
      const std::size_t last = std::min(examples.size(), first + per_chunk);
      std::vector<const EncodedExample*> chunk;
      for (std::size_t i = first * labels; i < last * labels; ++i) chunk.push_back(&encoded[i]);
      const TokenBatch b = make_token_batch(chunk, 0, codec_.pad());
      const RoutedForward<T> routed(this->router(), b.batch, [&] {
        std::vector<std::vector<std::int32_t>> prompts;
        for (std::size_t i = first * labels; i < last * labels; ++i) prompts.push_back(routing_ids(examples[i / labels], spec));
        return prompts_routing_input(prompts, this->routing_layer());
      });
      const ScoredRows scored = scored_rows(b);
      const Tensor<T> logits = model_->forward_at(b.ids, b.batch, b.seq, scored.rows);
      const Index vocab = logits.shape().last();
      std::vector<double> loglik(static_cast<std::size_t>(b.batch), 0.0);
      for (std::size_t i = 0; i < scored.rows.size(); ++i) {
        const T* z = logits.data() + static_cast<Index>(i) * vocab;
        const double top = static_cast<double>(*std::max_element(z, z + vocab));
        double sum = 0;
        for (Index v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(z[v]) - top);
        loglik[static_cast<std::size_t>(scored.rows[i] / b.seq)] += static_cast<double>(z[scored.targets[i]]) - top - std::log(sum);
      }
      for (std::size_t e = first; e < last; ++e) {
        const auto* scores = loglik.data() + (e - first) * labels;
        const auto best = static_cast<std::size_t>(std::max_element(scores, scores + labels) - scores);
        tally.hits += exact_match(spec.labels[best], examples[e].output) ? 1 : 0;
      }
    }
    return tally;
  }

  ScoreTally next_byte_tally(const TaskSpec& spec, const std::vector<Example>& examples) {
    NoGrad no_graph;
    const EvalMode<T> eval_mode(*model_);
    std::vector<EncodedExample> encoded;
    for (const Example& ex : examples) encoded.push_back(encode_example(ex, spec, options_.max_len, codec_));
    Index correct = 0, total = 0;
    Index longest = 1;
    for (const EncodedExample& e : encoded) longest = std::max<Index>(longest, static_cast<Index>(e.ids.size()));
    const auto chunk_size = static_cast<std::size_t>(
        std::max<Index>(1, std::min<Index>(options_.eval_batch, kEvalLogits / (longest * model_->vocab_size()))));
    for (std::size_t begin = 0; begin < encoded.size(); begin += chunk_size) {
      std::vector<const EncodedExample*> chunk;
      for (std::size_t i = begin; i < std::min(encoded.size(), begin + chunk_size); ++i)
        chunk.push_back(&encoded[i]);
      const TokenBatch b = make_token_batch(chunk, 0, codec_.pad());
      const RoutedForward<T> routed(this->router(), b.batch, [&] {
        std::vector<std::vector<std::int32_t>> texts;
        for (const EncodedExample* e : chunk) texts.push_back(e->ids);
        return prompts_routing_input(texts, this->routing_layer());
      });
      const Tensor<T> logits = model_->forward(b.ids, b.batch, b.seq);
      const Index vocab = logits.shape().last();
      for (Index row = 0; row < b.batch * b.seq; ++row) {
        if (b.targets[static_cast<std::size_t>(row)] == kIgnoreIndex) continue;
        const T* z = logits.data() + row * vocab;
        correct += (std::max_element(z, z + vocab) - z) == b.targets[static_cast<std::size_t>(row)] ? 1 : 0;
        ++total;
      }
    }
    return {static_cast<double>(correct), static_cast<double>(total)};
  }

  std::shared_ptr<CausalLM<T>> model_;
  Stream stream_;
  TextWorkloadOptions options_;
  TextCodec codec_;
  std::vector<std::vector<EncodedExample>> train_;  // per task, encoded once
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_TEXT_WORKLOAD_HPP
