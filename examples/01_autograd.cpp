// 01_autograd — the tensor core and its autograd in one small program.
//
// Two interleaved spirals, a 2-layer MLP written with core ops (matmul_nt, +, tanh,
// cross_entropy), gradients from backward(), and a hand-written SGD-with-momentum step under
// NoGrad. It prints the loss and accuracy as training goes, then draws the decision regions.
//   build/examples/01_autograd [--steps N] [--hidden H] [--lr LR] [--seed S] [--quick]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <everlora/core.hpp>
#include <vector>

using everlora::Index;
using everlora::Shape;
using Tensor = everlora::Tensor<float>;

struct Dataset {
  Tensor points;                      // [N, 2]
  std::vector<std::int32_t> labels;  // N class ids (0 or 1)
};

/// Two spirals of n points each, with a little noise.
Dataset make_spirals(Index n, everlora::Rng& rng) {
  Dataset d{Tensor::empty({2 * n, 2}), {}};
  for (Index i = 0; i < 2 * n; ++i) {
    const int arm = static_cast<int>(i % 2);
    const double t = 0.25 + 3.0 * static_cast<double>(i / 2) / static_cast<double>(n);  // turns
    const double angle = 2.0 * 3.14159265358979 * t * 0.5 + arm * 3.14159265358979;
    d.points[2 * i] = static_cast<float>(t * std::cos(angle) / 3.25 + rng.normal(0, 0.02));
    d.points[2 * i + 1] = static_cast<float>(t * std::sin(angle) / 3.25 + rng.normal(0, 0.02));
    d.labels.push_back(arm);
  }
  return d;
}

struct Mlp {
  Tensor w1, b1, w2, b2;  // [H, 2], [H], [2, H], [2]
  Tensor forward(const Tensor& x) const { return matmul_nt(tanh(matmul_nt(x, w1) + b1), w2) + b2; }
  std::vector<Tensor*> parameters() { return {&w1, &b1, &w2, &b2}; }
};

float accuracy(const Mlp& model, const Dataset& data) {
  everlora::NoGrad no_graph;
  const Tensor logits = model.forward(data.points);
  Index correct = 0;
  for (Index i = 0; i < logits.dim(0); ++i)
    correct += (logits[2 * i + 1] > logits[2 * i]) == (data.labels[static_cast<std::size_t>(i)] == 1);
  return 100.0f * static_cast<float>(correct) / static_cast<float>(logits.dim(0));
}

int main(int argc, char** argv) {
  CLI::App app{"Train a small MLP on two spirals with everlora's tensor core and autograd."};
  int steps = 1500, hidden = 64;
  float lr = 0.2f;
  std::uint64_t seed = 1;
  bool quick = false;
  app.add_option("--steps", steps, "full-batch training steps")->capture_default_str();
  app.add_option("--hidden", hidden, "hidden units")->capture_default_str();
  app.add_option("--lr", lr, "learning rate (SGD with momentum 0.9)")->capture_default_str();
  app.add_option("--seed", seed, "random seed")->capture_default_str();
  app.add_flag("--quick", quick, "a few steps only (used by the test suite)");
  CLI11_PARSE(app, argc, argv);
  if (quick) steps = 50;

  everlora::Rng rng(seed);
  const Dataset data = make_spirals(200, rng);
  const Index h = hidden;
  const float init1 = 1.0f / std::sqrt(2.0f), init2 = 1.0f / std::sqrt(static_cast<float>(h));
  Mlp model{Tensor::uniform({h, 2}, rng, -3 * init1, 3 * init1), Tensor::zeros({h}),
            Tensor::uniform({2, h}, rng, -init2, init2), Tensor::zeros({2})};
  std::vector<Tensor> velocity;
  for (Tensor* p : model.parameters()) {
    p->requires_grad_();
    velocity.push_back(Tensor::zeros(p->shape()));
  }

  std::printf("everlora %s | %lld points, MLP 2-%d-2, %d threads\n", EVERLORA_VERSION_STRING,
              static_cast<long long>(data.points.dim(0)), hidden, everlora::num_threads());
  const auto start = std::chrono::steady_clock::now();
  for (int step = 1; step <= steps; ++step) {
    Tensor loss = cross_entropy(model.forward(data.points), data.labels);
    for (Tensor* p : model.parameters()) p->zero_grad();
    loss.backward();
    {
      everlora::NoGrad no_graph;  // the update itself is not part of any graph
      auto params = model.parameters();
      for (std::size_t i = 0; i < params.size(); ++i) {
        velocity[i].vec() = 0.9f * velocity[i].vec() + params[i]->grad().vec();
        params[i]->vec() -= lr * velocity[i].vec();
      }
    }
    if (step == 1 || step % (steps / 10 > 0 ? steps / 10 : 1) == 0)
      std::printf("step %5d  loss %.4f  accuracy %5.1f%%\n", step, loss.item(), accuracy(model, data));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("trained in %.2f s (%.0f steps/s)\n\n", seconds, steps / seconds);

  // Decision regions on a 56×24 character grid: '.' class 0, '#' class 1, 'o'/'x' the data.
  const int cols = 56, rows = 24;
  Tensor grid = Tensor::empty({rows * cols, 2});
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      grid[2 * (r * cols + c)] = -1.1f + 2.2f * static_cast<float>(c) / (cols - 1);
      grid[2 * (r * cols + c) + 1] = 1.1f - 2.2f * static_cast<float>(r) / (rows - 1);
    }
  everlora::NoGrad no_graph;
  const Tensor logits = model.forward(grid);
  std::vector<std::string> canvas(rows, std::string(cols, ' '));
  for (int i = 0; i < rows * cols; ++i) canvas[i / cols][i % cols] = logits[2 * i + 1] > logits[2 * i] ? '#' : '.';
  for (Index i = 0; i < data.points.dim(0); ++i) {
    const int c = static_cast<int>(std::lround((data.points[2 * i] + 1.1f) / 2.2f * (cols - 1)));
    const int r = static_cast<int>(std::lround((1.1f - data.points[2 * i + 1]) / 2.2f * (rows - 1)));
    if (r >= 0 && r < rows && c >= 0 && c < cols) canvas[r][c] = data.labels[static_cast<std::size_t>(i)] ? 'x' : 'o';
  }
  for (const auto& line : canvas) std::printf("  %s\n", line.c_str());
  std::printf("\nfinal accuracy %.1f%%\n", accuracy(model, data));
  return 0;
}
