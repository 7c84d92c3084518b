// AccuracyMatrix (indices, unset entries, errors) and compute_metrics: the worked example of
// BENCHMARKS.md, the F.Ra row range, T = 1, and unset entries a formula needs.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <limits>

#include "everlora/metrics/accuracy_matrix.hpp"
#include "io/io_support.hpp"
#include "metrics/metrics_support.hpp"

using namespace everlora;
using everlora_test::matrix_from_rows;
using everlora_test::require_error;
using everlora_test::worked_example;

namespace {

/// `v` rounded to 3 decimals, as BENCHMARKS.md prints its figures.
std::string three_decimals(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

}  // namespace

TEST_CASE("AccuracyMatrix holds T+1 rows of T scores that start unset", "[metrics][matrix]") {
  AccuracyMatrix r(3);
  CHECK(r.tasks() == 3);
  CHECK_FALSE(r.has(0, 0));
  CHECK(std::isnan(r.at(3, 2)));

  r.set(0, 2, 15.0);
  r.set(3, 0, 55.5);
  r.set(3, 0, 56.0);  // a later set replaces
  CHECK(r.has(0, 2));
  CHECK(r.at(0, 2) == 15.0);
  CHECK(r.at(3, 0) == 56.0);

  const auto rows = r.rows();
  REQUIRE(rows.size() == 4);
  for (const auto& row : rows) CHECK(row.size() == 3);
  CHECK(rows[0][2] == 15.0);
  CHECK(rows[3][0] == 56.0);
  CHECK(std::isnan(rows[1][1]));
}

TEST_CASE("AccuracyMatrix rejects indices out of range naming them and T", "[metrics][matrix]") {
  AccuracyMatrix r(3);
  require_error([&] { r.at(4, 0); }, ErrorKind::index, {"AccuracyMatrix::at", "R[4][0]", "T = 3"});
  require_error([&] { r.set(0, 3, 1.0); }, ErrorKind::index,
                {"AccuracyMatrix::set", "R[0][3]", "tasks 0..2"});
  require_error([&] { r.has(-1, 0); }, ErrorKind::index, {"R[-1][0]", "rows 0..3"});
}

TEST_CASE("AccuracyMatrix rejects no tasks and scores that are not finite", "[metrics][matrix]") {
  require_error([] { AccuracyMatrix r(0); }, ErrorKind::value, {"at least 1", "got 0"});
  AccuracyMatrix r(2);
  require_error([&] { r.set(1, 1, std::numeric_limits<double>::quiet_NaN()); }, ErrorKind::value,
                {"AccuracyMatrix::set", "R[1][1]", "finite"});
  require_error([&] { r.set(1, 0, std::numeric_limits<double>::infinity()); }, ErrorKind::value,
                {"R[1][0]"});
  CHECK_FALSE(r.has(1, 1));
}

TEST_CASE("compute_metrics reproduces the worked example of BENCHMARKS.md", "[metrics][pinned]") {
  const ClMetrics m = compute_metrics(worked_example());
  CHECK(three_decimals(m.aa) == "71.667");
  CHECK(three_decimals(m.bwt) == "-20.000");
  CHECK(three_decimals(m.fwt) == "7.500");
  CHECK(three_decimals(m.fra) == "20.000");
  CHECK(three_decimals(m.la) == "85.000");
  CHECK(m.aa == Approx(215.0 / 3.0));
}

TEST_CASE("compute_metrics takes F.Ra's maximum over the rows after training only",
          "[metrics][pinned]") {
  // T = 2. Task 1 scores 90 zero-shot but only 50 once trained: F.Ra counts 50 − 40, not 90 − 40.
  const ClMetrics m = compute_metrics(matrix_from_rows({{90, 10}, {50, 20}, {40, 60}}));
  CHECK(m.fra == Approx(10.0));
  CHECK(m.bwt == Approx(-10.0));  // R[2][1] − R[1][1]
  CHECK(m.fwt == Approx(10.0));   // R[1][2] − R[0][2]
  CHECK(m.aa == Approx(50.0));
  CHECK(m.la == Approx(55.0));
}

TEST_CASE("compute_metrics of one task leaves the averages over T-1 tasks NaN",
          "[metrics][pinned]") {
  AccuracyMatrix r(1);  // the zero-shot row is not needed for T = 1
  r.set(1, 0, 70.0);
  const ClMetrics m = compute_metrics(r);
  CHECK(m.aa == 70.0);
  CHECK(m.la == 70.0);
  CHECK(std::isnan(m.bwt));
  CHECK(std::isnan(m.fwt));
  CHECK(std::isnan(m.fra));
}

TEST_CASE("compute_metrics names an unset entry that a formula needs", "[metrics][pinned]") {
  const double unset = std::numeric_limits<double>::quiet_NaN();
  require_error([&] {
    compute_metrics(matrix_from_rows({{35, 25, unset}, {80, 30, 20}, {60, 85, 25}, {55, 70, 90}}));
  }, ErrorKind::value, {"compute_metrics", "FWT", "R[0][2]", "unset"});
  require_error([&] {
    compute_metrics(matrix_from_rows({{35, 25, 15}, {80, 30, 20}, {60, 85, 25}, {55, unset, 90}}));
  }, ErrorKind::value, {"AA", "R[3][1]"});
  require_error([&] {
    compute_metrics(matrix_from_rows({{35, 25, 15}, {80, 30, 20}, {unset, 85, 25}, {55, 70, 90}}));
  }, ErrorKind::value, {"F.Ra", "R[2][0]"});
}
