// everlora — the report of a continual run: the metric table and R as text, R as CSV,
// results.json in the shape BENCHMARKS.md pins, and write_report, which writes all of it and the
// SVG plots into a folder.
//   RunReport report{"textcl", 0, task_names, {MethodResult{"seq_lora", r, compute_metrics(r)}}};
//   write_report("cl_results/textcl", report);   // results.json, seq_lora.csv, seq_lora_R.svg, …
//   std::fputs(metrics_table(report).c_str(), stderr);
// @sa docs/concepts/metrics.md
#ifndef EVERLORA_METRICS_REPORT_HPP
#define EVERLORA_METRICS_REPORT_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "everlora/core/error.hpp"
#include "everlora/io/atomic_file.hpp"
#include "everlora/metrics/accuracy_matrix.hpp"
#include "everlora/metrics/svg.hpp"

namespace everlora {

/// One method's outcome on a benchmark. Built from the first three fields or more, in order:
///   MethodResult{"seq_lora", r, compute_metrics(r), train_seconds, peak_rss_mb}
struct MethodResult {
  MethodResult(std::string method, AccuracyMatrix matrix, ClMetrics values, double seconds = 0,
               double rss_mb = 0, std::optional<AccuracyMatrix> alt = std::nullopt,
               std::string alt_label = "")
      : name(std::move(method)),
        r(std::move(matrix)),
        metrics(values),
        train_seconds(seconds),
        peak_rss_mb(rss_mb),
        r_alt(std::move(alt)),
        r_alt_label(std::move(alt_label)) {}

  std::string name;  ///< as on the command line, e.g. "seq_lora" or "jump_lora+ella"
  AccuracyMatrix r;  ///< R, (T+1)×T
  ClMetrics metrics;
  double train_seconds;
  double peak_rss_mb;
  std::optional<AccuracyMatrix> r_alt;  ///< an optional second R (e.g. I-LoRA's fast learner)
  std::string r_alt_label;              ///< what r_alt is, e.g. "fast learner"
};

/// What each task's scores stand against (BENCHMARKS.md), one entry per task or none at all: how
/// the task is scored ("exact_match", "rank", …), its chance level (percent of test examples with
/// the most common label) and its single-task ceiling ST (a fresh expert trained on that task
/// alone, same budget); NaN where not measured.
struct TaskBounds {
  std::vector<std::string> metric;
  std::vector<double> chance, ceiling;
  bool empty() const { return metric.empty(); }
};

/// Every method's outcome on one benchmark, tasks in training order.
struct RunReport {
  std::string benchmark;
  std::uint64_t seed = 0;
  std::vector<std::string> tasks;
  std::vector<MethodResult> methods;
  TaskBounds bounds;  ///< empty, or one entry per task
};

namespace detail {

/// Throws Error(value) unless `r` (the method's matrix called `which`) has one column per task.
inline void check_task_count(const char* api, const std::string& method, const char* which,
                             const AccuracyMatrix& r, const std::vector<std::string>& tasks) {
  if (r.tasks() != static_cast<Index>(tasks.size()))
    throw Error(ErrorKind::value, std::string(api) + ": method '" + method + "' has " + which +
                                      " for " + std::to_string(r.tasks()) + " tasks but " +
                                      std::to_string(tasks.size()) + " task names were given");
}

/// Throws Error(value) unless every method has a non-empty name of its own and matrices with one
/// column per task of the report.
inline void check_report(const char* api, const RunReport& report) {
  std::set<std::string> seen;
  for (const auto& m : report.methods) {
    if (m.name.empty()) throw Error(ErrorKind::value, std::string(api) + ": a method has no name");
    if (!seen.insert(m.name).second)
      throw Error(ErrorKind::value, std::string(api) + ": method '" + m.name + "' appears twice");
    check_task_count(api, m.name, "R", m.r, report.tasks);
    if (m.r_alt) check_task_count(api, m.name, "R_alt", *m.r_alt, report.tasks);
  }
}

/// "R0 (before)", then "after <task>" for each task: the rows of R.
inline std::vector<std::string> r_row_labels(const std::vector<std::string>& tasks) {
  std::vector<std::string> labels{"R0 (before)"};
  for (const auto& t : tasks) labels.push_back("after " + t);
  return labels;
}

/// `cells` (a header row, then data rows) as text: the first column left-aligned, the others
/// right-aligned, two spaces between columns, a rule under the header.
inline std::string text_table(const std::vector<std::vector<std::string>>& cells) {
  std::vector<std::size_t> widths;
  for (const auto& row : cells) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (std::size_t r = 0; r < cells.size(); ++r) {
    std::string line;
    for (std::size_t c = 0; c < cells[r].size(); ++c) {
      const std::string pad(widths[c] - cells[r][c].size(), ' ');
      if (c > 0) line += "  ";
      line += c == 0 ? cells[r][c] + pad : pad + cells[r][c];
    }
    out += line + "\n";
    if (r == 0) out += std::string(line.size(), '-') + "\n";
  }
  return out;
}

/// `text` as a CSV field (RFC 4180): quoted, with quotes doubled, when it holds , " or a newline.
inline std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

/// The shortest decimal form of `v` that reads back as `v` exactly; empty for NaN.
inline std::string csv_number(double v) {
  if (std::isnan(v)) return "";
  char buf[32];
  for (int precision = 15;; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (precision == 17 || std::strtod(buf, nullptr) == v) return buf;
  }
}

/// `v` for JSON: null when it is not finite.
inline nlohmann::json json_number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

/// R as T+1 JSON arrays of T numbers, null where unset.
inline nlohmann::json r_json(const AccuracyMatrix& r) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : r.rows()) {
    nlohmann::json cells = nlohmann::json::array();
    for (const double v : row) cells.push_back(json_number(v));
    rows.push_back(std::move(cells));
  }
  return rows;
}

/// The rows "chance" and "ST" of `bounds` (none when it is empty).
inline std::vector<std::pair<std::string, std::vector<double>>> bound_rows(const TaskBounds& bounds) {
  if (bounds.empty()) return {};
  return {{"chance", bounds.chance}, {"ST", bounds.ceiling}};
}

/// Throws Error(value) unless `bounds` is empty or has one entry per task in each of its fields.
inline void check_bounds(const char* api, const TaskBounds& bounds, const std::vector<std::string>& tasks) {
  if (bounds.empty() && bounds.chance.empty() && bounds.ceiling.empty()) return;
  if (bounds.metric.size() != tasks.size() || bounds.chance.size() != tasks.size() || bounds.ceiling.size() != tasks.size())
    throw Error(ErrorKind::value, std::string(api) + ": the task bounds hold " + std::to_string(bounds.metric.size()) + " metrics, " +
                                      std::to_string(bounds.chance.size()) + " chance levels and " + std::to_string(bounds.ceiling.size()) +
                                      " ceilings for " + std::to_string(tasks.size()) + " tasks");
}

/// One method's entry of results.json.
inline nlohmann::json method_json(const MethodResult& m) {
  nlohmann::json j = {{"R", r_json(m.r)},
                      {"AA", json_number(m.metrics.aa)},
                      {"BWT", json_number(m.metrics.bwt)},
                      {"FWT", json_number(m.metrics.fwt)},
                      {"FRa", json_number(m.metrics.fra)},
                      {"LA", json_number(m.metrics.la)},
                      {"train_seconds", json_number(m.train_seconds)},
                      {"peak_rss_mb", json_number(m.peak_rss_mb)}};
  if (m.r_alt) {
    const ClMetrics y = compute_metrics(*m.r_alt);
    j["R_alt"] = r_json(*m.r_alt);
    j["R_alt_label"] = m.r_alt_label;
    j["R_alt_metrics"] = {{"AA", json_number(y.aa)}, {"BWT", json_number(y.bwt)}, {"FWT", json_number(y.fwt)},
                          {"FRa", json_number(y.fra)}, {"LA", json_number(y.la)}};
  }
  return j;
}

}  // namespace detail

/// The metrics of every method as an aligned text table: method, AA, BWT, FWT, F.Ra, LA (two
/// decimals), training seconds and peak RSS in MB (one decimal); "n/a" for NaN. A method with
/// r_alt gets a second, indented row with the metrics of r_alt.
inline std::string metrics_table(const RunReport& report) {
  using detail::fixed;
  std::vector<std::vector<std::string>> cells{
      {"method", "AA", "BWT", "FWT", "F.Ra", "LA", "train s", "peak MB"}};
  for (const auto& m : report.methods) {
    const ClMetrics& x = m.metrics;
    cells.push_back({m.name, fixed(x.aa, 2), fixed(x.bwt, 2), fixed(x.fwt, 2), fixed(x.fra, 2),
                     fixed(x.la, 2), fixed(m.train_seconds, 1), fixed(m.peak_rss_mb, 1)});
    if (!m.r_alt) continue;
    const ClMetrics y = compute_metrics(*m.r_alt);
    cells.push_back({"  " + m.name + " [" + m.r_alt_label + "]", fixed(y.aa, 2), fixed(y.bwt, 2),
                     fixed(y.fwt, 2), fixed(y.fra, 2), fixed(y.la, 2)});
  }
  return detail::text_table(cells);
}

/// R of `method` as an aligned text table: a column per task, rows "R0 (before)" and
/// "after <task>", scores with one decimal, "n/a" where unset; the method's name heads the row
/// labels. With `bounds`, rows "chance" and "ST" follow. Throws Error(value) unless there is one
/// task name per column of R.
inline std::string r_matrix_table(const MethodResult& method, const std::vector<std::string>& tasks,
                                  const TaskBounds& bounds = {}) {
  detail::check_task_count("r_matrix_table", method.name, "R", method.r, tasks);
  std::vector<std::vector<std::string>> cells{{method.name}};
  cells[0].insert(cells[0].end(), tasks.begin(), tasks.end());
  const auto labels = detail::r_row_labels(tasks);
  const auto rows = method.r.rows();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    cells.push_back({labels[i]});
    for (const double v : rows[i]) cells.back().push_back(detail::fixed(v, 1));
  }
  for (const auto& [label, values] : detail::bound_rows(bounds)) {
    cells.push_back({label});
    for (const double v : values) cells.back().push_back(detail::fixed(v, 1));
  }
  return detail::text_table(cells);
}

/// R of `method` as CSV: the header `row,<task1>,<task2>,…`, then rows 0..T, each its row index
/// and T scores (shortest exact decimal form; an empty cell where unset). Throws Error(value)
/// unless there is one task name per column of R.
inline std::string r_csv(const MethodResult& method, const std::vector<std::string>& tasks) {
  detail::check_task_count("r_csv", method.name, "R", method.r, tasks);
  std::string out = "row";
  for (const auto& t : tasks) out += "," + detail::csv_field(t);
  out += "\n";
  const auto rows = method.r.rows();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out += std::to_string(i);
    for (const double v : rows[i]) out += "," + detail::csv_number(v);
    out += "\n";
  }
  return out;
}

/// results.json as BENCHMARKS.md pins it: {"benchmark", "seed", "tasks", "methods": {NAME: {"R",
/// "AA", "BWT", "FWT", "FRa", "LA", "train_seconds", "peak_rss_mb"}}}, plus "R_alt",
/// "R_alt_label" and "R_alt_metrics" (AA … LA) in a method that has r_alt. NaN and unset entries
/// are null. Throws Error(value) for a method without a name, a name used twice, or an R without
/// one column per task.
inline nlohmann::json results_json(const RunReport& report) {
  detail::check_report("results_json", report);
  detail::check_bounds("results_json", report.bounds, report.tasks);
  nlohmann::json methods = nlohmann::json::object();
  for (const auto& m : report.methods) methods[m.name] = detail::method_json(m);
  nlohmann::json out = {{"benchmark", report.benchmark},
                        {"seed", report.seed},
                        {"tasks", report.tasks},
                        {"methods", std::move(methods)}};
  if (!report.bounds.empty()) {
    nlohmann::json bounds = nlohmann::json::object();
    for (std::size_t t = 0; t < report.tasks.size(); ++t)
      bounds[report.tasks[t]] = {{"metric", report.bounds.metric[t]},
                                 {"chance", detail::json_number(report.bounds.chance[t])},
                                 {"ST", detail::json_number(report.bounds.ceiling[t])}};
    out["task_bounds"] = std::move(bounds);
  }
  return out;
}

namespace detail {

/// Throws Error(value) when a method name cannot be part of a file name (it holds '/' or NUL).
inline void check_file_name(const std::string& method) {
  if (method.find_first_of(std::string("/\0", 2)) != std::string::npos)
    throw Error(ErrorKind::value, "write_report: method name '" + method +
                                      "' cannot be part of a file name (it holds '/' or NUL)");
}

/// Creates `dir` and its parents if missing; Error(io) naming it when that fails.
inline void create_folder(const std::string& dir) {
  if (dir.empty()) throw Error(ErrorKind::io, "write_report: the output folder name is empty");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    throw Error(ErrorKind::io, "write_report: cannot create the folder '" + dir +
                                   "': " + (ec ? ec.message() : "a file of that name exists"));
}

/// Each task's score over time: one series per task (column of R) over the rows of R.
inline std::vector<std::pair<std::string, std::vector<double>>> task_curves(
    const AccuracyMatrix& r, const std::vector<std::string>& tasks) {
  const auto rows = r.rows();
  std::vector<std::pair<std::string, std::vector<double>>> series;
  for (std::size_t j = 0; j < tasks.size(); ++j) {
    std::vector<double> scores;
    for (const auto& row : rows) scores.push_back(row[j]);
    series.emplace_back(tasks[j], std::move(scores));
  }
  return series;
}

/// `dir/<name>.csv`, `dir/<name>_R.svg`, `dir/<name>_curves.svg` and, with r_alt, `dir/<name>_R_alt.svg`.
inline void write_method_files(const std::string& dir, const MethodResult& m,
                               const RunReport& report) {
  const std::string base = dir + "/" + m.name;
  const auto labels = r_row_labels(report.tasks);
  write_file_atomically(base + ".csv", r_csv(m, report.tasks));
  auto heat_rows = m.r.rows();  // R, then chance and ST beside it
  auto heat_labels = labels;
  for (const auto& [label, values] : bound_rows(report.bounds)) heat_rows.push_back(values), heat_labels.push_back(label);
  write_file_atomically(base + "_R.svg",
                        svg_heatmap(heat_rows, heat_labels, report.tasks,
                                    m.name + ": R on " + report.benchmark + " (score %)"));
  write_file_atomically(
      base + "_curves.svg",
      svg_line_chart(labels, task_curves(m.r, report.tasks),
                     m.name + ": each task's score over time on " + report.benchmark, "score (%)"));
  if (m.r_alt)
    write_file_atomically(base + "_R_alt.svg",
                          svg_heatmap(m.r_alt->rows(), labels, report.tasks,
                                      m.name + ": R of the " + m.r_alt_label + " on " +
                                          report.benchmark + " (score %)"));
}

/// AA and BWT of every method as grouped bars.
inline std::string summary_svg(const RunReport& report) {
  std::vector<std::string> names;
  std::vector<double> aa, bwt;
  for (const auto& m : report.methods) {
    names.push_back(m.name);
    aa.push_back(m.metrics.aa);
    bwt.push_back(m.metrics.bwt);
  }
  return svg_bar_chart(names, {{"AA", aa}, {"BWT", bwt}},
                       "AA and BWT per method on " + report.benchmark, "percent points");
}

}  // namespace detail

/// Writes the report into `dir` (created with its parents if missing), each file atomically:
/// results.json, and per method NAME.csv, NAME_R.svg (heat map of R), NAME_curves.svg (each task's
/// score over time) and, with r_alt, NAME_R_alt.svg; then summary.svg (AA and BWT per method).
/// Everything is checked before the first file is written: results_json's errors, and Error(value)
/// for a method name holding '/'. Error(io) names a folder or file that cannot be written.
inline void write_report(const std::string& dir, const RunReport& report) {
  // Invalid UTF-8 in a name becomes U+FFFD rather than an exception halfway through.
  const std::string json =
      results_json(report).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  for (const auto& m : report.methods) detail::check_file_name(m.name);
  detail::create_folder(dir);
  write_file_atomically(dir + "/results.json", json);
  for (const auto& m : report.methods) detail::write_method_files(dir, m, report);
  write_file_atomically(dir + "/summary.svg", detail::summary_svg(report));
}

}  // namespace everlora

#endif  // EVERLORA_METRICS_REPORT_HPP
