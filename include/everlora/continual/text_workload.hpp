// everlora — TextWorkload<T>: a stream of text tasks (data/stream.hpp) on a byte-level GPT.
// Training: prompt → output cast as generation, cross-entropy on the output bytes only
// (data/prompt.hpp). Scoring (percent):
//   exact-match tasks  greedy decoding from the prompt until end-of-sequence, compared with the
//                      gold output after trimming and lower-casing (BENCHMARKS.md);
//   next_byte tasks    teacher-forced accuracy of the argmax next byte over every position.
// Every example is encoded once, at construction.
#ifndef EVERLORA_CONTINUAL_TEXT_WORKLOAD_HPP
#define EVERLORA_CONTINUAL_TEXT_WORKLOAD_HPP

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "everlora/continual/workload.hpp"
#include "everlora/core/ops/loss.hpp"
#include "everlora/core/ops/shape_ops.hpp"
#include "everlora/data/byte_tokenizer.hpp"
#include "everlora/data/prompt.hpp"
#include "everlora/nn/generate.hpp"
#include "everlora/nn/gpt.hpp"

namespace everlora {

struct TextWorkloadOptions {
  Index max_len = 0;     ///< longest encoded example; 0: the model's context
  Index eval_limit = 0;  ///< score at most this many examples per split (the first ones); 0: all
  Index eval_batch = 16; ///< sequences per forward pass when scoring next_byte tasks
};

template <class T>
class TextWorkload : public Workload<T> {
 public:
  TextWorkload(std::shared_ptr<GPT<T>> model, Stream stream, TextWorkloadOptions options = {})
      : model_(std::move(model)), stream_(std::move(stream)), options_(options) {
    if (!model_) throw Error(ErrorKind::value, "TextWorkload: no model");
    if (stream_.tasks.empty()) throw Error(ErrorKind::value, "TextWorkload: stream '" + stream_.name + "' has no tasks");
    if (options_.max_len <= 0 || options_.max_len > model_->config().context) options_.max_len = model_->config().context;
    for (const Task& task : stream_.tasks) {
      std::vector<EncodedExample> encoded;
      encoded.reserve(task.train.size());
      for (const Example& ex : task.train) encoded.push_back(encode_example(ex, task.spec, options_.max_len));
      train_.push_back(std::move(encoded));
    }
  }

  Module<T>& model() override { return *model_; }
  GPT<T>& gpt() { return *model_; }
  const Stream& stream() const { return stream_; }
  /// Scores at most `limit` examples per split from now on (0: all).
  void set_eval_limit(Index limit) { options_.eval_limit = std::max<Index>(0, limit); }
  Index num_tasks() const override { return static_cast<Index>(stream_.tasks.size()); }
  std::string task_name(Index task) const override { return stream_.tasks.at(static_cast<std::size_t>(task)).spec.name; }
  Index train_size(Index task) const override { return static_cast<Index>(train_.at(static_cast<std::size_t>(task)).size()); }
  std::string score_name() const override { return "exact match / next-byte accuracy %"; }

  Tensor<T> loss(const std::vector<ExampleRef>& batch) override { return batch_loss(encoded(batch), nullptr); }
  /// The hidden state after every transformer block, [batch·seq, d_model] each (padding zeroed).
  Tensor<T> loss_with_features(const std::vector<ExampleRef>& batch, BlockFeatures<T>& features) override {
    return batch_loss(encoded(batch), &features);
  }

  double score(Index task, Split split) override {
    const Task& t = stream_.tasks.at(static_cast<std::size_t>(task));
    const std::vector<Example>& all = split == Split::train ? t.train : split == Split::dev ? t.dev : t.test;
    const std::size_t count = options_.eval_limit > 0 ? std::min(all.size(), static_cast<std::size_t>(options_.eval_limit)) : all.size();
    if (count == 0) throw Error(ErrorKind::value, "TextWorkload::score: task '" + t.spec.name + "' has no examples in that split");
    const std::vector<Example> examples(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(count));
    return t.spec.metric == TaskMetric::next_byte ? next_byte_accuracy(t.spec, examples) : exact_match_rate(t.spec, examples);
  }

  /// The model's greedy answer to one example's prompt (decoded bytes, before normalisation).
  std::string answer(const Example& ex, const TaskSpec& spec) {
    Index longest = static_cast<Index>(ex.output.size());
    for (const auto& label : spec.labels) longest = std::max<Index>(longest, static_cast<Index>(label.size()));
    const Index budget = longest + 1;  // room to say one byte too much, then stop
    const std::vector<std::int32_t> prompt = encode_prompt(ex, spec, options_.max_len - budget);
    GenerateOptions greedy;
    greedy.greedy = true;
    greedy.max_new_tokens = budget;
    greedy.stop_id = ByteVocab::kEos;
    Rng unused(0);
    return decode_bytes(generate(*model_, prompt, greedy, unused));
  }

 private:
  std::vector<const EncodedExample*> encoded(const std::vector<ExampleRef>& batch) const {
    std::vector<const EncodedExample*> examples;
    examples.reserve(batch.size());
    for (const ExampleRef& ref : batch)
      examples.push_back(&train_.at(static_cast<std::size_t>(ref.task)).at(static_cast<std::size_t>(ref.index)));
    return examples;
  }

  Tensor<T> batch_loss(const std::vector<const EncodedExample*>& examples, BlockFeatures<T>* features) {
    const TokenBatch b = make_token_batch(examples);
    const Index rows = b.batch * b.seq;
    std::vector<Tensor<T>> block_outputs;
    Tensor<T> logits = model_->forward(b.ids, b.batch, b.seq, nullptr, features ? &block_outputs : nullptr);
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
    return cross_entropy(reshape(logits, {rows, logits.shape().last()}), b.targets);
  }

  double exact_match_rate(const TaskSpec& spec, const std::vector<Example>& examples) {
    Index hits = 0;
    for (const Example& ex : examples) hits += exact_match(answer(ex, spec), ex.output) ? 1 : 0;
    return 100.0 * static_cast<double>(hits) / static_cast<double>(examples.size());
  }

  double next_byte_accuracy(const TaskSpec& spec, const std::vector<Example>& examples) {
    NoGrad no_graph;
    const EvalMode<T> eval_mode(*model_);
    std::vector<EncodedExample> encoded;
    for (const Example& ex : examples) encoded.push_back(encode_example(ex, spec, options_.max_len));
    Index correct = 0, total = 0;
    for (std::size_t begin = 0; begin < encoded.size(); begin += static_cast<std::size_t>(options_.eval_batch)) {
      std::vector<const EncodedExample*> chunk;
      for (std::size_t i = begin; i < std::min(encoded.size(), begin + static_cast<std::size_t>(options_.eval_batch)); ++i)
        chunk.push_back(&encoded[i]);
      const TokenBatch b = make_token_batch(chunk);
      const Tensor<T> logits = model_->forward(b.ids, b.batch, b.seq);
      const Index vocab = logits.shape().last();
      for (Index row = 0; row < b.batch * b.seq; ++row) {
        if (b.targets[static_cast<std::size_t>(row)] == kIgnoreIndex) continue;
        const T* z = logits.data() + row * vocab;
        correct += (std::max_element(z, z + vocab) - z) == b.targets[static_cast<std::size_t>(row)] ? 1 : 0;
        ++total;
      }
    }
    return total > 0 ? 100.0 * static_cast<double>(correct) / static_cast<double>(total) : 0.0;
  }

  std::shared_ptr<GPT<T>> model_;
  Stream stream_;
  TextWorkloadOptions options_;
  std::vector<std::vector<EncodedExample>> train_;  // per task, encoded once
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_TEXT_WORKLOAD_HPP
