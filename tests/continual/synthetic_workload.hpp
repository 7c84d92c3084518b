// everlora tests — a tiny continual workload: a frozen random linear classifier over `inputs`
// features and T classification tasks, task t labelling Gaussian inputs that live in its own block
// of features by a random linear rule. Small enough to train in milliseconds, hard enough that a
// shared adapter overwritten by later tasks forgets.
#ifndef EVERLORA_TESTS_CONTINUAL_SYNTHETIC_WORKLOAD_HPP
#define EVERLORA_TESTS_CONTINUAL_SYNTHETIC_WORKLOAD_HPP

#include <algorithm>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "everlora/everlora.hpp"

namespace everlora_test {

using namespace everlora;

template <class T>
class Classifier : public Module<T> {
 public:
  Classifier(Index inputs, Index classes, Rng& rng) {
    this->register_module("proj", proj_, std::make_shared<Linear<T>>(inputs, classes, true, rng));
  }
  const char* type_name() const override { return "Classifier"; }
  Tensor<T> forward(const Tensor<T>& x) { return proj_->forward(x); }

 private:
  std::shared_ptr<Linear<T>> proj_;
};

template <class T>
class SyntheticWorkload : public Workload<T> {
 public:
  /// `tasks` tasks of `examples` training (and as many test) examples over `block` features each,
  /// drawn from N(offset, 1): with an offset the tasks are linearly separable by their mean.
  SyntheticWorkload(Index tasks, Index examples, Index block, Index classes, std::uint64_t seed, T offset = 0)
      : rng_(seed), offset_(offset), block_(block), classes_(classes), inputs_(block * tasks), model_(inputs_, classes, rng_) {
    for (Index t = 0; t < tasks; ++t) {
      const Tensor<T> rule = Tensor<T>::normal({block, classes}, rng_, T(0), T(1));
      train_.push_back(make_split(t, examples, rule));
      test_.push_back(make_split(t, examples, rule));
    }
  }

  Module<T>& model() override { return model_; }
  Index num_tasks() const override { return static_cast<Index>(train_.size()); }
  std::string task_name(Index t) const override { return "t" + std::to_string(t + 1); }
  Index train_size(Index t) const override { return static_cast<Index>(train_[static_cast<std::size_t>(t)].labels.size()); }
  std::string score_name() const override { return "accuracy %"; }

  Tensor<T> loss(const std::vector<ExampleRef>& batch) override { return batch_loss(batch, nullptr); }
  /// The model's one block is the classifier: its features are the logits.
  Tensor<T> loss_with_features(const std::vector<ExampleRef>& batch, BlockFeatures<T>& features) override {
    return batch_loss(batch, &features);
  }

  double score(Index t, everlora::Split split) override { return score_part(t, split, {}).percent(); }
  bool supports_shards() const override { return true; }
  ScoreTally score_part(Index t, everlora::Split split, const BatchShard& part) override {
    NoGrad no_graph;
    const Split& s = split_of(t, split);
    const auto [begin, end] = part.range(static_cast<Index>(s.labels.size()));
    if (begin == end) return {};
    const Tensor<T> x = slice_rows(s.x, begin, end);
    const RoutedForward<T> routed(this->router(), x.dim(0), [&] { return rows_routing_input(x); });
    const Tensor<T> logits = model_.forward(x);
    ScoreTally tally{0, static_cast<double>(end - begin)};
    for (Index i = begin; i < end; ++i) {
      const T* z = logits.data() + (i - begin) * classes_;
      tally.hits += (std::max_element(z, z + classes_) - z) == s.labels[static_cast<std::size_t>(i)] ? 1 : 0;
    }
    return tally;
  }

  Index split_size(Index t, everlora::Split split) const override {
    return static_cast<Index>(split_of(t, split).labels.size());
  }
  /// Each example is a one-token prompt: its input row.
  RoutingInput<T> routing_input(const std::vector<ExampleRef>& refs, everlora::Split split, Index layer) override {
    if (layer != 0) throw Error(ErrorKind::config, "SyntheticWorkload: it has no hidden layer to route on");
    Tensor<T> x = Tensor<T>::empty({static_cast<Index>(refs.size()), inputs_});
    for (std::size_t i = 0; i < refs.size(); ++i)
      std::copy_n(split_of(refs[i].task, split).x.data() + refs[i].index * inputs_, inputs_, x.data() + static_cast<Index>(i) * inputs_);
    return rows_routing_input(x);
  }

  std::set<Index> seen_tasks;  ///< every task a training batch came from

 private:
  /// The loss of `whole`, or of this process's part of it (every mean is over examples).
  Tensor<T> batch_loss(const std::vector<ExampleRef>& whole, BlockFeatures<T>* features) {
    const BatchShard& shard = this->shard();
    const std::vector<ExampleRef> batch = shard.whole() ? whole : shard.of(whole);
    const auto part = static_cast<double>(batch.size()), all = static_cast<double>(whole.size());
    this->set_shard_weights(shard.weights({part, part, part}, {all, all, all}));
    const Index width = inputs_;
    Tensor<T> x = Tensor<T>::empty({static_cast<Index>(batch.size()), width});
    std::vector<std::int32_t> labels;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const Split& s = train_[static_cast<std::size_t>(batch[i].task)];
      std::copy_n(s.x.data() + batch[i].index * width, width, x.data() + static_cast<Index>(i) * width);
      labels.push_back(s.labels[static_cast<std::size_t>(batch[i].index)]);
      seen_tasks.insert(batch[i].task);
    }
    const RoutedForward<T> routed(this->router(), x.dim(0), [&] { return rows_routing_input(x); });
    const Tensor<T> logits = model_.forward(x);
    if (features) *features = BlockFeatures<T>{{logits}, static_cast<Index>(batch.size())};
    return cross_entropy(logits, labels) * static_cast<T>(this->shard_weight(BatchMean::loss_terms));
  }

  struct Split {
    Tensor<T> x;
    std::vector<std::int32_t> labels;
  };
  const Split& split_of(Index t, everlora::Split split) const {
    return (split == everlora::Split::train ? train_ : test_)[static_cast<std::size_t>(t)];
  }
  static Tensor<T> slice_rows(const Tensor<T>& x, Index begin, Index end) {
    Tensor<T> out = Tensor<T>::empty({end - begin, x.dim(1)});
    std::copy_n(x.data() + begin * x.dim(1), out.numel(), out.data());
    return out;
  }
  RoutingInput<T> rows_routing_input(const Tensor<T>& x) const {
    return {reshape(x, {x.dim(0), 1, x.dim(1)}), Tensor<T>::ones({x.dim(0), 1})};
  }

  Split make_split(Index t, Index examples, const Tensor<T>& rule) {
    Split s;
    const Index inputs = inputs_;
    s.x = Tensor<T>::zeros({examples, inputs});
    for (Index i = 0; i < examples; ++i) {
      T best = -1e30;
      std::int32_t label = 0;
      std::vector<T> z(static_cast<std::size_t>(classes_), T(0));
      for (Index f = 0; f < block_; ++f) {
        const T v = static_cast<T>(rng_.normal()) + offset_;
        s.x.data()[i * inputs + t * block_ + f] = v;
        for (Index c = 0; c < classes_; ++c) z[static_cast<std::size_t>(c)] += v * rule.data()[f * classes_ + c];
      }
      for (Index c = 0; c < classes_; ++c)
        if (z[static_cast<std::size_t>(c)] > best) best = z[static_cast<std::size_t>(c)], label = static_cast<std::int32_t>(c);
      s.labels.push_back(label);
    }
    return s;
  }

  Rng rng_;
  T offset_;
  Index block_, classes_, inputs_;
  Classifier<T> model_;
  std::vector<Split> train_, test_;
};

/// Every method name the registry builds: the 11 methods and the 6 compositions.
inline const std::vector<std::string>& every_method_name() {
  static const std::vector<std::string> names{"seq_lora", "inc_lora", "o_lora", "ella", "replay", "mtl", "am_lora", "jump_lora",
                                              "jump_lora+ella", "jump_lora+am_lora", "i_lora", "i_lora+inc_lora", "i_lora+o_lora",
                                              "i_lora+ella", "i_lora+am_lora", "sapt", "moa"};
  return names;
}

/// The tests' adapters: rank-2 experts (α = 4) on the classifier's "proj", initialised from `seed`.
inline StrategyOptions small_lora_options(std::uint64_t seed = 11) {
  StrategyOptions o;
  o.lora.r = 2;
  o.lora.alpha = 4;
  o.lora.target_modules = {"proj"};
  o.lora.seed = seed;
  return o;
}

/// `steps` steps per task of 16 examples at lr 0.05, without progress output.
inline TrainerOptions quiet_trainer(Index steps) {
  TrainerOptions t;
  t.steps_per_task = steps;
  t.batch_size = 16;
  t.lr = 0.05;
  t.progress = ProgressMode::silent;
  return t;
}

/// `method`'s metrics on a stream built to interfere: three tasks, rank-1 experts (a single shared
/// expert has room for one task's update at a time, so it must overwrite task 1 to learn task 2),
/// 100 steps per task. `adjust` may change the method's options.
inline ClMetrics interfering_stream_metrics(const std::string& method,
                                            const std::function<void(StrategyOptions&)>& adjust = {}) {
  SyntheticWorkload<float> w(3, 96, 4, 4, 9);
  StrategyOptions o = small_lora_options();
  o.lora.r = 1;
  o.lora.alpha = 2;
  if (adjust) adjust(o);
  auto strategy = make_strategy<float>(method, o);
  return compute_metrics(train_continual(w, *strategy, quiet_trainer(100)).r);
}

}  // namespace everlora_test

#endif  // EVERLORA_TESTS_CONTINUAL_SYNTHETIC_WORKLOAD_HPP
