// own_trainer — LoRA in your own training loop, with only everlora's functional adapter math.
//
// A "pretrained" two-layer network (plain Eigen matrices: everlora never sees it as a model) is
// adapted to a new task by rank-4 LoRA updates on both layers. The loop is the user's:
// lora_forward on each layer, a tanh in between, the MSE loss, lora_backward back through both
// layers (dX of layer 2 is dY of layer 1), and an SGD step on A and B only; W0 stays frozen.
//   build/examples/own_trainer [--steps N] [--quick]
#include <CLI/CLI.hpp>
#include <cstdio>
#include <everlora/adapters/lora_math.hpp>
#include <everlora/core/random.hpp>

using Mat = everlora::RowMatrix<float>;
using everlora::Index;

Mat random_matrix(Index rows, Index cols, everlora::Rng& rng, double stddev) {
  Mat m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.normal(0.0, stddev));
  return m;
}

/// One frozen linear layer of the user's model with its LoRA pair.
struct AdaptedLayer {
  Mat w0;                 // [out, in], frozen
  Eigen::VectorXf bias;   // [out], frozen
  Mat a, b;               // [r, in], [out, r]: PEFT's init, A uniform ±1/√in, B = 0
  everlora::LoraWorkspace<float> ws;
  Mat x, y, da, db;       // this step's input and output, and the adapter gradients

  AdaptedLayer(Mat w, Index rank, everlora::Rng& rng)
      : w0(std::move(w)), bias(Eigen::VectorXf::Zero(w0.rows())), a(rank, w0.cols()), b(Mat::Zero(w0.rows(), rank)) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(w0.cols()));
    for (Index i = 0; i < a.size(); ++i) a.data()[i] = static_cast<float>(rng.uniform(-bound, bound));
  }
  const Mat& forward(const Mat& input, float scale) {
    x = input;
    y.resize(x.rows(), w0.rows());
    everlora::lora_forward<float>(x, w0, bias, a, b, scale, y, ws);
    return y;
  }
  Mat backward(const Mat& dy, float scale) {
    Mat dx(x.rows(), x.cols());
    da.resize(a.rows(), a.cols());
    db.resize(b.rows(), b.cols());
    everlora::lora_backward<float>(x, w0, a, b, scale, ws, dy, dx, da, db);
    return dx;
  }
  void sgd(float lr) {
    a -= lr * da;
    b -= lr * db;
  }
};

int main(int argc, char** argv) {
  CLI::App app{"Fine-tune a network you own with everlora's functional LoRA forward/backward."};
  int steps = 400;
  bool quick = false;
  app.add_option("--steps", steps, "SGD steps")->capture_default_str();
  app.add_flag("--quick", quick, "a few steps only (used by the test suite)");
  CLI11_PARSE(app, argc, argv);
  if (quick) steps = 20;

  everlora::Rng rng(3);
  const Index n = 256, in = 32, hidden = 64, out = 8, rank = 4;
  const float alpha = 8.0f, scale = alpha / static_cast<float>(rank), lr = 0.2f;
  // The user's pretrained network, and a new task: the same network with a low-rank change.
  Mat w1 = random_matrix(hidden, in, rng, 1.0 / std::sqrt(in));
  Mat w2 = random_matrix(out, hidden, rng, 1.0 / std::sqrt(hidden));
  const Mat x = random_matrix(n, in, rng, 1.0);
  const Mat shift = random_matrix(hidden, 2, rng, 0.5) * random_matrix(2, in, rng, 0.5);
  const Mat target = ((x * (w1 + shift).transpose()).array().tanh().matrix()) * w2.transpose();

  AdaptedLayer layer1(w1, rank, rng), layer2(w2, rank, rng);
  std::printf("LoRA r=%td on a %td-%td-%td network the library never sees (%td trainable of %td weights)\n",
              rank, in, hidden, out, rank * (in + hidden) + rank * (hidden + out), hidden * in + out * hidden);
  for (int step = 0; step <= steps; ++step) {
    const Mat h = layer1.forward(x, scale).array().tanh().matrix();
    const Mat& y = layer2.forward(h, scale);
    const Mat diff = y - target;
    const float loss = diff.squaredNorm() / static_cast<float>(diff.size());
    if (step % (steps / 10 > 0 ? steps / 10 : 1) == 0) std::printf("step %4d  mse %.5f\n", step, loss);
    if (step == steps) break;
    const Mat dy = (2.0f / static_cast<float>(diff.size())) * diff;            // ∂loss/∂y
    const Mat dh = layer2.backward(dy, scale);                                   // ∂loss/∂h
    const Mat dpre = (dh.array() * (1.0f - h.array().square())).matrix();        // through tanh
    layer1.backward(dpre, scale);
    layer1.sgd(lr);
    layer2.sgd(lr);
  }
  return 0;
}
