// The snippet of docs/concepts/metrics.md, compiled and run (STYLE.md: every doc snippet is
// compiled). Keep the block here identical to the one on the page.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "everlora/metrics.hpp"
#include "io/io_support.hpp"

TEST_CASE("The snippet of docs/concepts/metrics.md runs", "[metrics][docs]") {
  everlora_test::TempDir dir;
  const std::string out_dir = dir.file("cl_results/textcl");
  // ---- docs/concepts/metrics.md ----
  const double scores[4][3] = {{35, 25, 15}, {80, 30, 20}, {60, 85, 25}, {55, 70, 90}};
  everlora::AccuracyMatrix r(3);                  // T = 3 tasks: rows 0..3, tasks 0..2
  for (int row = 0; row <= 3; ++row)              // row 0: before training; row i: after task i
    for (int task = 0; task < 3; ++task) r.set(row, task, scores[row][task]);
  everlora::ClMetrics m = everlora::compute_metrics(r);  // AA 71.667, BWT −20, FWT 7.5, F.Ra 20, LA 85

  everlora::RunReport report;
  report.benchmark = "textcl";
  report.seed = 0;
  report.tasks = {"pos", "topic", "source"};
  report.methods.push_back({"seq_lora", r, m});   // train_seconds and peak_rss_mb default to 0
  everlora::write_report(out_dir, report);        // e.g. "cl_results/textcl"
  std::string table = everlora::metrics_table(report);
  // ----
  CHECK(m.fwt == Approx(7.5));
  CHECK(std::filesystem::exists(out_dir + "/seq_lora_R.svg"));
  CHECK_THAT(table, Catch::Contains("71.67  -20.00  7.50  20.00  85.00"));
}
