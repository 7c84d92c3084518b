// The functional LoRA math (adapters/lora_math.hpp): values against the dense formula,
// finite-difference gradients in double, and shape errors.
#include <catch2/catch.hpp>

#include "everlora/adapters/lora_math.hpp"
#include "everlora/core/random.hpp"

using namespace everlora;
using Mat = RowMatrix<double>;
using Vec = Eigen::VectorXd;

namespace {
Mat random_matrix(Index rows, Index cols, Rng& rng) {
  Mat m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = rng.normal();
  return m;
}

struct Problem {
  Mat x, w0, a, b, w;  // w: fixed projection of y for the scalar loss L = Σ y ⊙ w
  Vec bias;
  double scale = 2.0;
  explicit Problem(Rng& rng)
      : x(random_matrix(5, 4, rng)), w0(random_matrix(3, 4, rng)), a(random_matrix(2, 4, rng)),
        b(random_matrix(3, 2, rng)), w(random_matrix(5, 3, rng)), bias(Vec::Random(3)) {}
  double loss() const {
    LoraWorkspace<double> ws;
    Mat y(5, 3);
    lora_forward<double>(x, w0, bias, a, b, scale, y, ws);
    return (y.array() * w.array()).sum();
  }
};

/// Central differences of p.loss() with respect to every entry of m (a member of p).
Mat numeric_gradient(Problem& p, Mat& m) {
  Mat g(m.rows(), m.cols());
  for (Index i = 0; i < m.size(); ++i) {
    const double saved = m.data()[i];
    m.data()[i] = saved + 1e-6;
    const double up = p.loss();
    m.data()[i] = saved - 1e-6;
    const double down = p.loss();
    m.data()[i] = saved;
    g.data()[i] = (up - down) / 2e-6;
  }
  return g;
}
}  // namespace

TEST_CASE("lora_forward equals x·(W0 + s·B·A)ᵀ + b", "[adapters][lora_math]") {
  Rng rng(1);
  Problem p(rng);
  LoraWorkspace<double> ws;
  Mat y(5, 3);
  lora_forward<double>(p.x, p.w0, p.bias, p.a, p.b, p.scale, y, ws);
  const Mat dense = p.x * (p.w0 + p.scale * p.b * p.a).transpose();
  const Mat expected = dense.rowwise() + p.bias.transpose();
  CHECK((y - expected).cwiseAbs().maxCoeff() < 1e-12);
  // B = 0 (PEFT's init): exactly the base layer.
  Mat zero_b = Mat::Zero(3, 2), y0(5, 3);
  lora_forward<double>(p.x, p.w0, Vec(), p.a, zero_b, p.scale, y0, ws);
  Mat base(5, 3);  // x·W0ᵀ through the library's own GEMM, so "exactly" means bit for bit
  detail::gemm<double>(false, true, 5, 3, 4, 1.0, p.x.data(), 4, p.w0.data(), 4, 0.0, base.data(), 3);
  CHECK(y0 == base);
}

TEST_CASE("lora_backward matches finite differences for x, A and B", "[adapters][lora_math][gradcheck]") {
  Rng rng(2);
  Problem p(rng);
  LoraWorkspace<double> ws;
  Mat y(5, 3), dx(5, 4), da(2, 4), db(3, 2);
  lora_forward<double>(p.x, p.w0, p.bias, p.a, p.b, p.scale, y, ws);
  lora_backward<double>(p.x, p.w0, p.a, p.b, p.scale, ws, p.w, dx, da, db);
  CHECK((dx - numeric_gradient(p, p.x)).cwiseAbs().maxCoeff() < 1e-7);
  CHECK((da - numeric_gradient(p, p.a)).cwiseAbs().maxCoeff() < 1e-7);
  CHECK((db - numeric_gradient(p, p.b)).cwiseAbs().maxCoeff() < 1e-7);
}

TEST_CASE("the functional API works on maps of user-owned float buffers", "[adapters][lora_math]") {
  std::vector<float> x = {1, 2, 3, 4}, w0 = {1, 0, 0, 1}, a = {1, 1}, b = {0.5f, -0.5f}, y(4);
  using Map = Eigen::Map<RowMatrix<float>>;
  LoraWorkspace<float> ws;
  lora_forward<float>(Map(x.data(), 2, 2), Map(w0.data(), 2, 2), Eigen::VectorXf(),
                      Map(a.data(), 1, 2), Map(b.data(), 2, 1), 2.0f, Map(y.data(), 2, 2), ws);
  // row 0: x = (1, 2): base (1, 2), u = 3, update 2·3·(0.5, −0.5) = (3, −3)
  CHECK(y == std::vector<float>{4, -1, 10, -3});
}

TEST_CASE("mismatched shapes name every operand", "[adapters][lora_math][errors]") {
  Rng rng(3);
  Problem p(rng);
  LoraWorkspace<double> ws;
  Mat y(5, 3);
  Mat bad_a = random_matrix(2, 5, rng);
  CHECK_THROWS_WITH(lora_forward<double>(p.x, p.w0, p.bias, bad_a, p.b, 1.0, y, ws),
                    Catch::Contains("A [2, 5]") && Catch::Contains("x [5, 4]"));
  Mat small_y(4, 3);
  CHECK_THROWS_WITH(lora_forward<double>(p.x, p.w0, p.bias, p.a, p.b, 1.0, small_y, ws),
                    Catch::Contains("y [4, 3]"));
}
