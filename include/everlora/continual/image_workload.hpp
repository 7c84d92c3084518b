// everlora — ImageWorkload<T>: image classification tasks on an MLP backbone, and the
// rotated-Fashion-MNIST stream (BENCHMARKS.md: a backbone pretrained on upright images, then one
// task per rotation angle). Pixels are scaled to [0, 1]; score = accuracy in percent.
#ifndef EVERLORA_CONTINUAL_IMAGE_WORKLOAD_HPP
#define EVERLORA_CONTINUAL_IMAGE_WORKLOAD_HPP

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "everlora/continual/workload.hpp"
#include "everlora/core/ops/loss.hpp"
#include "everlora/core/ops/shape_ops.hpp"
#include "everlora/data/fashion_mnist.hpp"
#include "everlora/nn/mlp.hpp"

namespace everlora {

/// One image task: its name and splits.
struct ImageTask {
  std::string name;
  ImageSet train, dev, test;
};

/// The listed images (a set and a row each) as a [count, rows·cols] tensor in [0, 1]; their
/// labels go to `labels`. All sets must have the same image size.
template <class T>
Tensor<T> gather_images(const std::vector<std::pair<const ImageSet*, Index>>& images, std::vector<std::int32_t>& labels) {
  const Index pixels = images.empty() ? 0 : images.front().first->rows * images.front().first->cols;
  Tensor<T> x = Tensor<T>::empty({static_cast<Index>(images.size()), pixels});
  labels.clear();
  for (std::size_t i = 0; i < images.size(); ++i) {
    const auto& [set, row] = images[i];
    if (set->rows * set->cols != pixels)
      throw Error(ErrorKind::shape, "gather_images: images of " + std::to_string(set->rows) + "x" +
                                        std::to_string(set->cols) + " mixed with " + std::to_string(pixels) + "-pixel ones");
    const std::uint8_t* src = set->pixels.data() + row * pixels;
    T* dst = x.data() + static_cast<Index>(i) * pixels;
    for (Index p = 0; p < pixels; ++p) dst[p] = static_cast<T>(src[p]) / T(255);
    labels.push_back(set->labels[static_cast<std::size_t>(row)]);
  }
  return x;
}

/// Rotated Fashion-MNIST: task k holds `train_per_task` training images (and dev / test images
/// from the test split) rotated by angles[k] degrees; every task draws different images.
inline std::vector<ImageTask> rotated_fashion_mnist(const std::vector<double>& angles, Index train_per_task,
                                                    Index eval_per_task, const std::string& dir = kFashionMnistDir) {
  const ImageSet train = load_fashion_mnist(true, dir), test = load_fashion_mnist(false, dir);
  const Index tasks = static_cast<Index>(angles.size());
  if (tasks * train_per_task > train.count || tasks * 2 * eval_per_task > test.count)
    throw Error(ErrorKind::config, "rotated_fashion_mnist: " + std::to_string(tasks) + " tasks of " +
                                       std::to_string(train_per_task) + " training and 2 x " + std::to_string(eval_per_task) +
                                       " evaluation images exceed Fashion-MNIST's 60000 / 10000");
  std::vector<ImageTask> out;
  for (Index k = 0; k < tasks; ++k) {
    const double angle = angles[static_cast<std::size_t>(k)];
    ImageTask task;
    task.name = "rot" + std::to_string(static_cast<long>(std::lround(angle)));
    task.train = rotate_images(subset(train, k * train_per_task, train_per_task), angle);
    task.dev = rotate_images(subset(test, 2 * k * eval_per_task, eval_per_task), angle);
    task.test = rotate_images(subset(test, (2 * k + 1) * eval_per_task, eval_per_task), angle);
    out.push_back(std::move(task));
  }
  return out;
}

template <class T>
class ImageWorkload : public Workload<T> {
 public:
  ImageWorkload(std::shared_ptr<MLPClassifier<T>> model, std::vector<ImageTask> tasks)
      : model_(std::move(model)), tasks_(std::move(tasks)) {
    if (!model_) throw Error(ErrorKind::value, "ImageWorkload: no model");
    if (tasks_.empty()) throw Error(ErrorKind::value, "ImageWorkload: no tasks");
  }

  Module<T>& model() override { return *model_; }
  Index num_tasks() const override { return static_cast<Index>(tasks_.size()); }
  std::string task_name(Index task) const override { return tasks_.at(static_cast<std::size_t>(task)).name; }
  Index train_size(Index task) const override { return tasks_.at(static_cast<std::size_t>(task)).train.count; }
  std::string score_name() const override { return "accuracy %"; }

  Tensor<T> loss(const std::vector<ExampleRef>& batch) override { return batch_loss(batch, nullptr); }
  /// The output of every hidden layer (after its ReLU), [batch, width] each.
  Tensor<T> loss_with_features(const std::vector<ExampleRef>& batch, BlockFeatures<T>& features) override {
    return batch_loss(batch, &features);
  }

  double score(Index task, Split split) override { return accuracy(*model_, images(task, split), this->router()); }
  bool supports_shards() const override { return true; }
  /// Correct images out of `part`'s range of the split.
  ScoreTally score_part(Index task, Split split, const BatchShard& part) override {
    const ImageSet& set = images(task, split);
    if (set.count == 0) throw Error(ErrorKind::value, "ImageWorkload: an empty image set cannot be scored");
    const auto [begin, end] = part.range(set.count);
    return tally(*model_, set, begin, end, this->router());
  }

  Index split_size(Index task, Split split) const override { return images(task, split).count; }
  /// Each image is a one-token prompt: tokens [B, 1, pixels] (or the base model's hidden layer).
  RoutingInput<T> routing_input(const std::vector<ExampleRef>& examples, Split split, Index layer) override {
    std::vector<std::pair<const ImageSet*, Index>> list;
    for (const ExampleRef& ref : examples) list.emplace_back(&images(ref.task, split), ref.index);
    std::vector<std::int32_t> labels;
    return image_routing_input(*model_, gather_images<T>(list, labels), layer, this->router());
  }

  /// Images x [B, pixels] as a router sees them: x itself as [B, 1, pixels] (layer 0), or the
  /// output of the base model's hidden layer `layer` (`router`, if any, routing to no expert),
  /// without a graph.
  static RoutingInput<T> image_routing_input(MLPClassifier<T>& model, const Tensor<T>& x, Index layer, ExampleRouter<T>* router) {
    const Index batch = x.dim(0);
    RoutingInput<T> input{reshape(x, {batch, 1, x.dim(1)}), Tensor<T>::ones({batch, 1})};
    if (layer == 0) return input;
    NoGrad no_graph;
    const EvalMode<T> eval_mode(model);
    std::vector<Tensor<T>> hidden;
    if (router) router->route_to_base(batch);
    model.forward(x, &hidden);
    if (router) router->clear();
    if (layer > static_cast<Index>(hidden.size()))
      throw Error(ErrorKind::config, "ImageWorkload: routing input layer " + std::to_string(layer) + " but the MLP has " +
                                         std::to_string(hidden.size()) + " hidden layers");
    const Tensor<T>& h = hidden[static_cast<std::size_t>(layer - 1)];
    input.tokens = reshape(h, {batch, 1, h.dim(1)});
    return input;
  }

  /// Percent of `set` the model classifies correctly (no graph, eval mode, restored after),
  /// routing each chunk through `router` if one is given.
  static double accuracy(MLPClassifier<T>& model, const ImageSet& set, ExampleRouter<T>* router = nullptr) {
    if (set.count == 0) throw Error(ErrorKind::value, "ImageWorkload: an empty image set cannot be scored");
    return tally(model, set, 0, set.count, router).percent();
  }
  /// As accuracy, for the images [begin, end) of `set`: correct ones out of end − begin.
  static ScoreTally tally(MLPClassifier<T>& model, const ImageSet& set, Index begin, Index end, ExampleRouter<T>* router = nullptr) {
    NoGrad no_graph;
    const EvalMode<T> eval_mode(model);
    ScoreTally out{0, static_cast<double>(end - begin)};
    std::vector<std::int32_t> labels;
    for (Index chunk = begin; chunk < end; chunk += 256) {
      std::vector<std::pair<const ImageSet*, Index>> images;
      for (Index i = chunk; i < std::min(end, chunk + 256); ++i) images.emplace_back(&set, i);
      const Tensor<T> x = gather_images<T>(images, labels);
      const RoutedForward<T> routed(router, x.dim(0), [&] { return image_routing_input(model, x, router->input_layer(), router); });
      const Tensor<T> logits = model.forward(x);
      const Index classes = logits.shape().last();
      for (std::size_t i = 0; i < images.size(); ++i) {
        const T* z = logits.data() + static_cast<Index>(i) * classes;
        out.hits += (std::max_element(z, z + classes) - z) == labels[i] ? 1 : 0;
      }
    }
    return out;
  }

 private:
  /// The loss of `whole`, or of this process's part of it (every mean is over examples).
  Tensor<T> batch_loss(const std::vector<ExampleRef>& whole, BlockFeatures<T>* features) {
    const BatchShard& shard = this->shard();
    const std::vector<ExampleRef> batch = shard.whole() ? whole : shard.of(whole);
    if (!shard.whole()) {
      const auto part = static_cast<double>(batch.size()), all = static_cast<double>(whole.size());
      this->set_shard_weights(shard.weights({part, part, part}, {all, all, all}));
    }
    std::vector<std::pair<const ImageSet*, Index>> images;
    for (const ExampleRef& ref : batch) images.emplace_back(&tasks_.at(static_cast<std::size_t>(ref.task)).train, ref.index);
    std::vector<std::int32_t> labels;
    const Tensor<T> x = gather_images<T>(images, labels);
    const RoutedForward<T> routed(this->router(), x.dim(0), [&] { return image_routing_input(*model_, x, this->routing_layer(), this->router()); });
    const Tensor<T> logits = model_->forward(x, features ? &features->blocks : nullptr);
    if (features) features->rows = x.dim(0);
    const Tensor<T> loss = cross_entropy(logits, labels);
    const double weight = this->shard_weight(BatchMean::loss_terms);
    return weight == 1.0 ? loss : loss * static_cast<T>(weight);
  }

  const ImageSet& images(Index task, Split split) const {
    const ImageTask& t = tasks_.at(static_cast<std::size_t>(task));
    return split == Split::train ? t.train : split == Split::dev ? t.dev : t.test;
  }

  std::shared_ptr<MLPClassifier<T>> model_;
  std::vector<ImageTask> tasks_;
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_IMAGE_WORKLOAD_HPP
