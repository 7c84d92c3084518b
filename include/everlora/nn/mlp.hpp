// everlora — the two multi-layer perceptrons: the transformer's feed-forward MLP
// (fc1 → GELU → fc2) and MLPClassifier, a ReLU stack for vision tasks (fc1 … fcN).
#ifndef EVERLORA_NN_MLP_HPP
#define EVERLORA_NN_MLP_HPP

#include <memory>
#include <string>
#include <vector>

#include "everlora/core/ops/activations.hpp"
#include "everlora/nn/linear.hpp"

namespace everlora {

/// Transformer feed-forward: x [.., d] → fc2(gelu(fc1(x))), hidden width `hidden`.
template <class T>
class MLP : public Module<T> {
 public:
  MLP(Index d_model, Index hidden, Rng& rng) {
    this->register_module("fc1", fc1_, std::make_shared<Linear<T>>(d_model, hidden, true, rng));
    this->register_module("fc2", fc2_, std::make_shared<Linear<T>>(hidden, d_model, true, rng));
  }
  const char* type_name() const override { return "MLP"; }
  Tensor<T> forward(const Tensor<T>& x) { return fc2_->forward(gelu(fc1_->forward(x))); }
  Linear<T>& fc1() { return *fc1_; }
  Linear<T>& fc2() { return *fc2_; }

 private:
  std::shared_ptr<Linear<T>> fc1_, fc2_;
};

/// Classifier: sizes {in, h1, …, classes} → Linear layers fc1 … fcN with ReLU between them.
template <class T>
class MLPClassifier : public Module<T> {
 public:
  MLPClassifier(const std::vector<Index>& sizes, Rng& rng) {
    if (sizes.size() < 2)
      throw Error(ErrorKind::config, "MLPClassifier: needs at least {inputs, classes}");
    layers_.resize(sizes.size() - 1);
    for (std::size_t i = 0; i + 1 < sizes.size(); ++i)
      this->register_module("fc" + std::to_string(i + 1), layers_[i],
                            std::make_shared<Linear<T>>(sizes[i], sizes[i + 1], true, rng));
  }
  const char* type_name() const override { return "MLPClassifier"; }

  /// x [N, in] → logits [N, classes]. `hidden`, if given, receives each hidden layer's output
  /// (after its ReLU, [N, width]).
  Tensor<T> forward(const Tensor<T>& x, std::vector<Tensor<T>>* hidden = nullptr) {
    if (hidden) hidden->clear();
    Tensor<T> h = x;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      h = layers_[i]->forward(h);
      if (i + 1 < layers_.size()) {
        h = relu(h);
        if (hidden) hidden->push_back(h);
      }
    }
    return h;
  }
  /// Number of Linear layers.
  std::size_t num_layers() const { return layers_.size(); }

 private:
  std::vector<std::shared_ptr<Linear<T>>> layers_;
};

}  // namespace everlora

#endif  // EVERLORA_NN_MLP_HPP
