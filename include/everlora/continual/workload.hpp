// everlora — Workload<T>: what a continual run trains, seen from the trainer and the strategies.
// A workload owns a model and a stream of tasks and knows how to turn a batch of examples into a
// loss and a task into a score. The trainer never looks inside: text tasks on a byte-level GPT
// (TextWorkload) and image tasks on an MLP (ImageWorkload) run through the same loop.
#ifndef EVERLORA_CONTINUAL_WORKLOAD_HPP
#define EVERLORA_CONTINUAL_WORKLOAD_HPP

#include <string>
#include <vector>

#include "everlora/adapters/combiners/example_router.hpp"
#include "everlora/continual/batch_shard.hpp"
#include "everlora/core/error.hpp"
#include "everlora/core/random.hpp"
#include "everlora/core/tensor.hpp"
#include "everlora/data/task.hpp"
#include "everlora/nn/module.hpp"

namespace everlora {

/// One example: the index-th example of task `task`'s training split (both 0-based), or of the
/// split a function names.
struct ExampleRef {
  Index task = 0;
  Index index = 0;
  friend bool operator==(const ExampleRef& a, const ExampleRef& b) {
    return a.task == b.task && a.index == b.index;
  }
};

/// The hidden states of one batch after every block of the model (I-LoRA's consistency term):
/// one [rows, width] tensor per block, in order, rows that are padding set to zero; `rows` counts
/// the real ones (tokens of the examples, or images).
template <class T>
struct BlockFeatures {
  std::vector<Tensor<T>> blocks;
  Index rows = 0;
};

template <class T>
class Workload {
 public:
  virtual ~Workload() = default;

  /// The model every strategy adapts (its adapted layers are found by attach / adapted_layers).
  virtual Module<T>& model() = 0;
  virtual Index num_tasks() const = 0;
  virtual std::string task_name(Index task) const = 0;
  /// Number of training examples of a task.
  virtual Index train_size(Index task) const = 0;
  /// Mean training loss over the batch (examples may come from several tasks), with autograd.
  virtual Tensor<T> loss(const std::vector<ExampleRef>& batch) = 0;
  /// As loss(batch), from the same forward pass, and the batch's hidden states into `features`
  /// (with graph). Methods that regularise representations need it; a workload without it throws
  /// Error(config).
  virtual Tensor<T> loss_with_features(const std::vector<ExampleRef>& /*batch*/, BlockFeatures<T>& /*features*/) {
    throw Error(ErrorKind::config, "this workload does not expose its hidden states (loss_with_features)");
  }
  /// The task's score in percent on a split (exact match, accuracy or next-byte accuracy),
  /// computed without a graph; the model's train/eval mode is restored afterwards.
  virtual double score(Index task, Split split) = 0;
  /// What score() measures, for reports ("exact match %", "accuracy %", …).
  virtual std::string score_name() const = 0;

  // ---- data-parallel training (continual/batch_shard.hpp) ---------------------------------------
  /// Whether the workload honours set_shard and score_part; the trainer refuses data-parallel
  /// training on one that does not.
  virtual bool supports_shards() const { return false; }
  /// The hits and total of score(task, split) on `part`'s range of the split's examples (summed
  /// over the parts of a split, they give the whole split's score).
  virtual ScoreTally score_part(Index /*task*/, Split /*split*/, const BatchShard& /*part*/) {
    throw Error(ErrorKind::config, "this workload cannot score part of a split (score_part)");
  }
  /// From now on loss() and loss_with_features() compute only `shard`'s part of each batch, their
  /// means weighted as the file comment of batch_shard.hpp says. Error(config) for an invalid
  /// shard or, with more than one part, a workload without supports_shards().
  void set_shard(const BatchShard& shard) {
    shard.check();
    if (!shard.whole() && !supports_shards())
      throw Error(ErrorKind::config, "this workload does not support data-parallel training (supports_shards is false)");
    shard_ = shard;
    weights_ = {};
  }
  const BatchShard& shard() const { return shard_; }
  /// The factor a batch mean over the last forward pass of loss() or loss_with_features() is
  /// multiplied by, so that its mean over the processes is the whole batch's mean (1 unsharded).
  double shard_weight(BatchMean mean) const { return weights_.of(mean); }

  // ---- per-example routing (SAPT, MoA) ----------------------------------------------------------
  /// Number of examples in a split of a task.
  virtual Index split_size(Index /*task*/, Split /*split*/) const { throw cannot_route("split_size"); }
  /// What a router sees of `examples` (indices into `split` of their tasks), without a graph: each
  /// example's prompt as the input embeddings of its tokens (layer 0), or as the base model's
  /// hidden state after its layer-th block (the adapters routed to no expert).
  virtual RoutingInput<T> routing_input(const std::vector<ExampleRef>& /*examples*/, Split /*split*/, Index /*layer*/) {
    throw cannot_route("routing_input");
  }
  /// Whether generated_routing_input can sample new inputs from the model.
  virtual bool can_generate_inputs() const { return false; }
  /// `count` pseudo inputs of `task` sampled from the model itself (prompted with the task's
  /// instruction), as routing inputs at `layer`; the router's forced expert, if any, is active.
  virtual RoutingInput<T> generated_routing_input(Index /*task*/, Index /*count*/, Rng& /*rng*/, Index /*layer*/) {
    throw Error(ErrorKind::config, "this workload cannot generate pseudo inputs (its model is not generative)");
  }
  /// From now on every forward pass of the model routes its batch through `router` first (a
  /// router that the model owns; null turns routing off).
  void set_router(ExampleRouter<T>* router) { router_ = router; }
  ExampleRouter<T>* router() const { return router_; }

 protected:
  /// The input layer the router asks for (0 without a router).
  Index routing_layer() const { return router_ ? router_->input_layer() : 0; }
  /// A sharded loss() records the weights of the batch it has just computed a part of.
  void set_shard_weights(const ShardWeights& weights) { weights_ = weights; }

 private:
  static Error cannot_route(const char* what) {
    return Error(ErrorKind::config, std::string("this workload does not support per-example routing (") + what + ")");
  }
  ExampleRouter<T>* router_ = nullptr;
  BatchShard shard_;
  ShardWeights weights_;
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_WORKLOAD_HPP
