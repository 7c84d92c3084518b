// Reports: the metric and R tables, R as CSV, results.json in the pinned shape, and write_report's
// folder of files (written atomically, checked before the first one).
#include <catch2/catch.hpp>

#include <filesystem>
#include <limits>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "everlora/metrics/report.hpp"
#include "io/io_support.hpp"
#include "metrics/metrics_support.hpp"

using namespace everlora;
using everlora_test::check_well_formed;
using everlora_test::count;
using everlora_test::kNaN;
using everlora_test::matrix_from_rows;
using everlora_test::require_error;
using everlora_test::TempDir;
using everlora_test::worked_example;

namespace {

/// The worked example as "seq_lora", and a one-row-short variant as "jump_lora+ella".
RunReport sample_report() {
  const AccuracyMatrix r = worked_example();
  const AccuracyMatrix partial =
      matrix_from_rows({{35, 25, 15}, {80, 30, 20}, {60, 85, 25}, {55, 70, kNaN}});
  RunReport report;
  report.benchmark = "textcl";
  report.seed = 18446744073709551615ULL;  // the largest seed survives JSON
  report.tasks = {"pos", "topic", "source"};
  report.methods.push_back({"seq_lora", r, compute_metrics(r), 12.34, 410.5, std::nullopt, ""});
  report.methods.push_back({"jump_lora+ella", partial, {kNaN, kNaN, kNaN, kNaN, kNaN}, 3, 99,
                            worked_example(), "fast learner"});
  return report;
}

}  // namespace

TEST_CASE("metrics_table aligns a row per method and prints NaN as n/a", "[metrics][report]") {
  // A method with a second R (here the fast learner) gets an indented row with its metrics.
  CHECK(metrics_table(sample_report()) ==
        "method                              AA     BWT   FWT   F.Ra     LA  train s  peak MB\n" +
            std::string(84, '-') + "\n" +
            "seq_lora                         71.67  -20.00  7.50  20.00  85.00     12.3    410.5\n"
            "jump_lora+ella                     n/a     n/a   n/a    n/a    n/a      3.0     99.0\n"
            "  jump_lora+ella [fast learner]  71.67  -20.00  7.50  20.00  85.00\n");
}

TEST_CASE("r_matrix_table labels the rows R0 (before) and after each task", "[metrics][report]") {
  const RunReport report = sample_report();
  CHECK(r_matrix_table(report.methods[1], report.tasks) ==
        "jump_lora+ella   pos  topic  source\n"
        "-----------------------------------\n"
        "R0 (before)     35.0   25.0    15.0\n"
        "after pos       80.0   30.0    20.0\n"
        "after topic     60.0   85.0    25.0\n"
        "after source    55.0   70.0     n/a\n");
  require_error([&] { r_matrix_table(report.methods[0], {"pos"}); }, ErrorKind::value,
                {"r_matrix_table", "'seq_lora' has R for 3 tasks but 1 task names"});
}

TEST_CASE("r_csv writes a header and rows 0..T with empty cells where unset", "[metrics][report]") {
  RunReport report = sample_report();
  report.methods[1].r.set(0, 0, 1.0 / 3.0);  // exact round trip, shortest form
  CHECK(r_csv(report.methods[1], {"pos", "topic, quoted", "say \"hi\""}) ==
        "row,pos,\"topic, quoted\",\"say \"\"hi\"\"\"\n"
        "0,0.3333333333333333,25,15\n"
        "1,80,30,20\n"
        "2,60,85,25\n"
        "3,55,70,\n");
  require_error([&] { r_csv(report.methods[0], {}); }, ErrorKind::value, {"r_csv", "seq_lora"});
}

TEST_CASE("results_json has exactly the pinned shape of BENCHMARKS.md", "[metrics][report]") {
  const nlohmann::json j = results_json(sample_report());
  std::set<std::string> keys;
  for (const auto& item : j.items()) keys.insert(item.key());
  CHECK(keys == std::set<std::string>{"benchmark", "seed", "tasks", "methods"});
  CHECK(j["benchmark"] == "textcl");
  CHECK(j["seed"].get<std::uint64_t>() == 18446744073709551615ULL);
  CHECK(j["tasks"] == nlohmann::json({"pos", "topic", "source"}));
  REQUIRE(j["methods"].size() == 2);

  const nlohmann::json& seq = j["methods"]["seq_lora"];
  std::set<std::string> method_keys;
  for (const auto& item : seq.items()) method_keys.insert(item.key());
  CHECK(method_keys == std::set<std::string>{"R", "AA", "BWT", "FWT", "FRa", "LA",
                                             "train_seconds", "peak_rss_mb"});
  CHECK(seq["R"] == nlohmann::json::parse("[[35,25,15],[80,30,20],[60,85,25],[55,70,90]]"));
  CHECK(seq["AA"].get<double>() == Approx(71.6667).margin(1e-4));
  CHECK(seq["BWT"].get<double>() == Approx(-20.0));
  CHECK(seq["FRa"].get<double>() == Approx(20.0));
  CHECK(seq["train_seconds"].get<double>() == 12.34);
  CHECK(seq["peak_rss_mb"].get<double>() == 410.5);

  const nlohmann::json& jump = j["methods"]["jump_lora+ella"];
  CHECK(jump["R"][3][2].is_null());
  CHECK(jump["AA"].is_null());
  CHECK(jump["R_alt"] == seq["R"]);
  CHECK(jump["R_alt_label"] == "fast learner");
  CHECK(jump["R_alt_metrics"]["AA"] == seq["AA"]);
  CHECK(jump["R_alt_metrics"]["BWT"] == seq["BWT"]);
}

TEST_CASE("results_json rejects a name used twice, no name, or the wrong task count",
          "[metrics][report]") {
  RunReport twice = sample_report();
  twice.methods[1].name = "seq_lora";
  require_error([&] { results_json(twice); }, ErrorKind::value,
                {"results_json", "'seq_lora' appears twice"});

  RunReport unnamed = sample_report();
  unnamed.methods[0].name.clear();
  require_error([&] { results_json(unnamed); }, ErrorKind::value, {"a method has no name"});

  RunReport short_alt = sample_report();
  short_alt.methods[1].r_alt = AccuracyMatrix(2);
  require_error([&] { results_json(short_alt); }, ErrorKind::value,
                {"'jump_lora+ella' has R_alt for 2 tasks but 3 task names"});
}

TEST_CASE("write_report writes results.json, a CSV and plots per method, and summary.svg",
          "[metrics][report]") {
  TempDir tmp;
  const std::string dir = tmp.file("out/textcl");  // parents are created too
  const RunReport report = sample_report();
  write_report(dir, report);

  std::set<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    files.insert(e.path().filename().string());
  CHECK(files == std::set<std::string>{"results.json", "summary.svg", "seq_lora.csv",
                                       "seq_lora_R.svg", "seq_lora_curves.svg",
                                       "jump_lora+ella.csv", "jump_lora+ella_R.svg",
                                       "jump_lora+ella_curves.svg", "jump_lora+ella_R_alt.svg"});
  CHECK(nlohmann::json::parse(read_file(dir + "/results.json")) == results_json(report));
  CHECK(read_file(dir + "/seq_lora.csv") == r_csv(report.methods[0], report.tasks));
  for (const auto& f : files)
    if (f.size() > 4 && f.substr(f.size() - 4) == ".svg") {
      INFO(f);
      check_well_formed(read_file(dir + "/" + f));
    }
  const std::string heatmap = read_file(dir + "/seq_lora_R.svg");
  CHECK(count(heatmap, "<rect class=\"cell\"") == 12);
  CHECK(count(heatmap, ">after topic</text>") == 1);
  const std::string curves = read_file(dir + "/jump_lora+ella_curves.svg");
  CHECK(count(curves, "<polyline") == 3);  // one per task; "source" has no final score
  const std::string summary = read_file(dir + "/summary.svg");
  CHECK(count(summary, "<rect class=\"bar\"") == 2);  // seq_lora's AA and BWT; NaN has no bar
  CHECK(count(summary, "class=\"zero-line\"") == 1);

  write_report(dir, report);  // a second run replaces the files
  CHECK(std::filesystem::exists(dir + "/summary.svg"));
}

TEST_CASE("write_report checks names before writing anything", "[metrics][report]") {
  TempDir tmp;
  RunReport report = sample_report();
  report.methods[1].name = "jump/lora";
  require_error([&] { write_report(tmp.file("out"), report); }, ErrorKind::value,
                {"write_report", "'jump/lora'", "file name"});
  CHECK_FALSE(std::filesystem::exists(tmp.file("out")));
}

TEST_CASE("write_report names a folder it cannot create", "[metrics][report]") {
  TempDir tmp;
  everlora_test::write_plain(tmp.file("taken"), "a file, not a folder");
  require_error([&] { write_report(tmp.file("taken"), sample_report()); }, ErrorKind::io,
                {"write_report", "cannot create the folder", "taken"});
  require_error([&] { write_report("", sample_report()); }, ErrorKind::io, {"empty"});
}

TEST_CASE("Task bounds (chance and ST) go under R, into results.json and beside R in the heat map", "[metrics][report]") {
  RunReport report = sample_report();
  report.bounds = {{"rank", "rank", "exact_match"}, {33.3, 25, 25}, {80, 61.5, kNaN}};
  const std::string table = r_matrix_table(report.methods[0], report.tasks, report.bounds);
  CHECK_THAT(table, Catch::Contains("chance") && Catch::Contains("33.3") && Catch::Contains("ST") && Catch::Contains("61.5") &&
                        Catch::Contains("n/a"));
  const nlohmann::json j = results_json(report);
  CHECK(j["task_bounds"]["pos"]["metric"] == "rank");
  CHECK(j["task_bounds"]["topic"]["ST"] == 61.5);
  CHECK(j["task_bounds"]["source"]["ST"].is_null());
  CHECK(j["task_bounds"]["source"]["chance"] == 25.0);
  CHECK_FALSE(results_json(sample_report()).contains("task_bounds"));  // none measured: the pinned shape
  TempDir dir;
  write_report(dir.path(), report);
  CHECK_THAT(read_file(dir.file("seq_lora_R.svg")), Catch::Contains(">chance<") && Catch::Contains(">ST<"));
  report.bounds.chance.pop_back();
  require_error([&] { results_json(report); }, ErrorKind::value, {"task bounds hold 3 metrics, 2 chance levels and 3 ceilings for 3 tasks"});
}
