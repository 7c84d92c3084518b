// everlora tests — finite-difference gradient check in double.
//
// For y = f(inputs), draws a fixed random projection w of y's shape and compares the analytic
// gradient of L = Σ y ⊙ w (one backward with seed w) with central differences
// (L(x + ε) − L(x − ε)) / 2ε for every element of every input that requires grad.
// Reports ‖g − ĝ‖ / ‖g + ĝ‖ and the largest absolute difference (mlpack's CheckGradient and
// JacobianTest). A coordinate where the one-sided differences disagree sits on a kink (ReLU at 0,
// a max tie): it fails the check unless the caller allow-lists kinks for that op.
#ifndef EVERLORA_TEST_SUPPORT_GRADCHECK_HPP
#define EVERLORA_TEST_SUPPORT_GRADCHECK_HPP

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "everlora/core/autograd.hpp"
#include "everlora/core/random.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora_test {

using everlora::Tensor;

struct GradCheckOptions {
  double eps = 1e-6;
  bool allow_kinks = false;  // skip coordinates that straddle a kink instead of failing
  std::uint64_t seed = 1234;
};

struct GradCheckReport {
  double relative_error = 0;  // ‖g − ĝ‖ / ‖g + ĝ‖
  double max_abs_diff = 0;
  int checked = 0;
  int kinks = 0;
  std::string worst;  // where the largest difference is

  bool passed(double tolerance = 1e-6) const {
    return checked > 0 && relative_error < tolerance && max_abs_diff < tolerance;
  }
  std::string summary() const {
    std::ostringstream os;
    os << "relative error " << relative_error << ", max |g - g_fd| " << max_abs_diff << " at "
       << worst << ", " << checked << " coordinates checked, " << kinks << " on kinks";
    return os.str();
  }
};

/// Checks the gradient of f with respect to every input that requires grad.
/// f: (const std::vector<Tensor<double>>&) -> Tensor<double> of any shape.
template <class F>
GradCheckReport gradcheck(F f, std::vector<Tensor<double>> inputs, GradCheckOptions opt = {}) {
  GradCheckReport report;
  for (auto& x : inputs)
    if (x.requires_grad()) x.zero_grad();
  Tensor<double> y = f(inputs);
  everlora::Rng rng(opt.seed);
  const Tensor<double> w = Tensor<double>::normal(y.shape(), rng, 0.0, 1.0);
  y.backward(w);

  auto loss = [&]() {
    everlora::NoGrad no_grad;
    const Tensor<double> out = f(inputs);
    return out.vec().dot(w.vec());
  };
  double diff2 = 0, sum2 = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Tensor<double>& x = inputs[i];
    if (!x.requires_grad()) continue;
    const Tensor<double> analytic = x.has_grad() ? x.grad().clone() : Tensor<double>::zeros(x.shape());
    for (everlora::Index j = 0; j < x.numel(); ++j) {
      const double saved = x[j];
      const double l0 = loss();
      x[j] = saved + opt.eps;
      const double lp = loss();
      x[j] = saved - opt.eps;
      const double lm = loss();
      x[j] = saved;
      const double forward = (lp - l0) / opt.eps, backward = (l0 - lm) / opt.eps;
      if (std::abs(forward - backward) > 1e-3 * (1.0 + std::abs(forward))) {
        ++report.kinks;
        if (opt.allow_kinks) continue;
      }
      const double numeric = (lp - lm) / (2 * opt.eps);
      const double d = std::abs(analytic[j] - numeric);
      diff2 += d * d;
      sum2 += (analytic[j] + numeric) * (analytic[j] + numeric);
      if (d >= report.max_abs_diff) {
        report.max_abs_diff = d;
        report.worst = "input " + std::to_string(i) + " element " + std::to_string(j) +
                       " (analytic " + std::to_string(analytic[j]) + ", numeric " +
                       std::to_string(numeric) + ")";
      }
      ++report.checked;
    }
  }
  report.relative_error = sum2 > 0 ? std::sqrt(diff2) / std::sqrt(sum2) : std::sqrt(diff2);
  if (!opt.allow_kinks && report.kinks > 0) report.relative_error = 1;  // an unexpected kink fails
  return report;
}

/// A leaf of the given shape with values uniform in [lo, hi), requiring grad.
inline Tensor<double> random_input(const everlora::Shape& shape, everlora::Rng& rng,
                                   double lo = -1.0, double hi = 1.0) {
  Tensor<double> t = Tensor<double>::uniform(shape, rng, lo, hi);
  t.requires_grad_();
  return t;
}

/// Values uniform in ±[lo, hi): away from zero, for ops with a kink there.
inline Tensor<double> random_away_from_zero(const everlora::Shape& shape, everlora::Rng& rng,
                                            double lo = 0.1, double hi = 1.0) {
  Tensor<double> t = Tensor<double>::uniform(shape, rng, lo, hi);
  for (everlora::Index i = 0; i < t.numel(); ++i)
    if (rng.uniform() < 0.5) t[i] = -t[i];
  t.requires_grad_();
  return t;
}

}  // namespace everlora_test

#define EVERLORA_CHECK_GRADIENT(report)   \
  do {                                    \
    const auto& r_ = (report);            \
    INFO(r_.summary());                   \
    CHECK(r_.passed());                   \
  } while (false)

#endif  // EVERLORA_TEST_SUPPORT_GRADCHECK_HPP
