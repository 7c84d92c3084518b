// everlora — the accuracy matrix R of a continual run and the pinned metrics computed from it.
//   AccuracyMatrix r(3);            // 3 tasks: rows 0..3, task columns 0..2
//   r.set(0, 2, 15.0);              // before any training, task 2 scores 15 %
//   ClMetrics m = compute_metrics(r);   // AA, BWT, FWT, F.Ra, LA (BENCHMARKS.md)
// @sa docs/concepts/metrics.md
#ifndef EVERLORA_METRICS_ACCURACY_MATRIX_HPP
#define EVERLORA_METRICS_ACCURACY_MATRIX_HPP

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "everlora/config.hpp"
#include "everlora/core/error.hpp"

namespace everlora {

/// The (T+1)×T matrix of test scores (percent) of a continual run over T tasks.
/// Row 0 holds the scores before any continual training (zero-shot); row i (1..T) the scores after
/// training the i-th task, i.e. the task with index i−1. Tasks are indexed 0..T−1. So the 1-based
/// `R[i][j]` of BENCHMARKS.md is `at(i, j − 1)`. Entries start unset.
class AccuracyMatrix {
 public:
  /// An empty matrix for `tasks` ≥ 1 tasks. Throws Error(value) otherwise.
  explicit AccuracyMatrix(Index tasks) : tasks_(tasks) {
    if (tasks < 1)
      throw Error(ErrorKind::value, "AccuracyMatrix: the number of tasks must be at least 1, got " +
                                        std::to_string(tasks));
    scores_.assign(static_cast<std::size_t>((tasks + 1) * tasks),
                   std::numeric_limits<double>::quiet_NaN());
  }

  /// T, the number of tasks (the matrix has T+1 rows and T columns).
  Index tasks() const { return tasks_; }

  /// Sets the score of `task` after `row`. Throws Error(index) for indices out of range and
  /// Error(value) for a score that is not finite.
  void set(Index row, Index task, double score) {
    check_indices("set", row, task);
    if (!std::isfinite(score))
      throw Error(ErrorKind::value, "AccuracyMatrix::set: " + entry_name(row, task) +
                                        " must be finite, got " + std::to_string(score));
    scores_[offset(row, task)] = score;
  }

  /// The score of `task` after `row`; NaN when unset. Throws Error(index) out of range.
  double at(Index row, Index task) const {
    check_indices("at", row, task);
    return scores_[offset(row, task)];
  }

  /// Whether the score of `task` after `row` was set. Throws Error(index) out of range.
  bool has(Index row, Index task) const { return !std::isnan(at(row, task)); }

  /// The whole matrix: T+1 rows of T scores, NaN where unset.
  std::vector<std::vector<double>> rows() const {
    std::vector<std::vector<double>> out;
    for (Index row = 0; row <= tasks_; ++row) {
      const auto first = scores_.begin() + static_cast<std::ptrdiff_t>(offset(row, 0));
      out.emplace_back(first, first + tasks_);
    }
    return out;
  }

  /// "R[row][task]" with the API's indices (row 0..T, task 0..T−1), for messages.
  static std::string entry_name(Index row, Index task) {
    return "R[" + std::to_string(row) + "][" + std::to_string(task) + "]";
  }

 private:
  void check_indices(const char* op, Index row, Index task) const {
    if (row < 0 || row > tasks_ || task < 0 || task >= tasks_)
      throw Error(ErrorKind::index,
                  std::string("AccuracyMatrix::") + op + ": " + entry_name(row, task) +
                      " is out of range for T = " + std::to_string(tasks_) + " (rows 0.." +
                      std::to_string(tasks_) + ", tasks 0.." + std::to_string(tasks_ - 1) + ")");
  }

  std::size_t offset(Index row, Index task) const {
    return static_cast<std::size_t>(row * tasks_ + task);
  }

  Index tasks_;
  std::vector<double> scores_;  // row-major, NaN = unset
};

/// The pinned continual-learning metrics of BENCHMARKS.md, in percent points.
struct ClMetrics {
  double aa;   ///< average accuracy at the end: (1/T) Σ_j R[T][j]
  double bwt;  ///< backward transfer (negative = forgetting); NaN for T = 1
  double fwt;  ///< forward transfer against the zero-shot row; NaN for T = 1
  double fra;  ///< forgetting F.Ra (max earlier score minus final score); NaN for T = 1
  double la;   ///< learning accuracy: (1/T) Σ_j R[j][j]
};

namespace detail {

/// BENCHMARKS.md's R[i][j] with its 1-based task j (column j − 1); Error(value) naming the entry
/// and the metric that needs it when the entry is unset.
inline double pinned_r(const AccuracyMatrix& r, Index i, Index j, const char* metric) {
  if (!r.has(i, j - 1))
    throw Error(ErrorKind::value, std::string("compute_metrics: ") + metric + " needs " +
                                      AccuracyMatrix::entry_name(i, j - 1) + ", which is unset");
  return r.at(i, j - 1);
}

/// AA = (1/T) Σ_j R[T][j]  (BENCHMARKS.md)
inline double average_accuracy(const AccuracyMatrix& r) {
  const Index t = r.tasks();
  double sum = 0.0;
  for (Index j = 1; j <= t; ++j) sum += pinned_r(r, t, j, "AA");
  return sum / static_cast<double>(t);
}

/// LA = (1/T) Σ_j R[j][j]  (BENCHMARKS.md)
inline double learning_accuracy(const AccuracyMatrix& r) {
  const Index t = r.tasks();
  double sum = 0.0;
  for (Index j = 1; j <= t; ++j) sum += pinned_r(r, j, j, "LA");
  return sum / static_cast<double>(t);
}

/// BWT = (1/(T−1)) Σ_{j<T} (R[T][j] − R[j][j])  (BENCHMARKS.md); needs T ≥ 2.
inline double backward_transfer(const AccuracyMatrix& r) {
  const Index t = r.tasks();
  double sum = 0.0;
  for (Index j = 1; j < t; ++j) sum += pinned_r(r, t, j, "BWT") - pinned_r(r, j, j, "BWT");
  return sum / static_cast<double>(t - 1);
}

/// FWT = (1/(T−1)) Σ_{j≥2} (R[j−1][j] − R[0][j])  (BENCHMARKS.md); needs T ≥ 2.
inline double forward_transfer(const AccuracyMatrix& r) {
  const Index t = r.tasks();
  double sum = 0.0;
  for (Index j = 2; j <= t; ++j) sum += pinned_r(r, j - 1, j, "FWT") - pinned_r(r, 0, j, "FWT");
  return sum / static_cast<double>(t - 1);
}

/// F.Ra = (1/(T−1)) Σ_{j<T} (max_{1≤k<T} R[k][j] − R[T][j])  (BENCHMARKS.md); needs T ≥ 2.
/// k starts at 1: the zero-shot row 0 is not something the run learned, so not something it can
/// forget (as in Chaudhry et al. 2018, where the maximum runs over training steps).
inline double forgetting(const AccuracyMatrix& r) {
  const Index t = r.tasks();
  double sum = 0.0;
  for (Index j = 1; j < t; ++j) {
    double best = pinned_r(r, 1, j, "F.Ra");
    for (Index k = 2; k < t; ++k) best = std::max(best, pinned_r(r, k, j, "F.Ra"));
    sum += best - pinned_r(r, t, j, "F.Ra");
  }
  return sum / static_cast<double>(t - 1);
}

}  // namespace detail

/// AA, BWT, FWT, F.Ra and LA of `r`, exactly as BENCHMARKS.md pins them. The averages over T−1
/// tasks (BWT, FWT, F.Ra) are NaN when T = 1. An entry a formula needs but `r` lacks throws
/// Error(value) naming it. In F.Ra the maximum runs over rows 1..T−1 (after training; not the
/// zero-shot row 0).
/// @sa docs/concepts/metrics.md
inline ClMetrics compute_metrics(const AccuracyMatrix& r) {
  if (r.tasks() == 1) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return {detail::average_accuracy(r), nan, nan, nan, detail::learning_accuracy(r)};
  }
  return {detail::average_accuracy(r), detail::backward_transfer(r), detail::forward_transfer(r),
          detail::forgetting(r), detail::learning_accuracy(r)};
}

}  // namespace everlora

#endif  // EVERLORA_METRICS_ACCURACY_MATRIX_HPP
