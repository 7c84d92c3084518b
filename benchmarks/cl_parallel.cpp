// cl_parallel — data-parallel training, measured (docs/distributed.md). Runs cl_run on one
// benchmark under mpirun as 1 process of C threads, as 2 processes of C/2 threads (C: the cores),
// and as 1 process of C/2 threads (what each of the 2 has), and reports for each: the median time
// per optimizer step, the bytes each step hands to its one allreduce (cl_run's count), the bytes
// process 0 sent per step over the whole run (Open MPI's pml monitoring: every collective,
// scoring's too), process 0's peak memory, and how far its R and final losses are from the first
// layout's. With --check (implied by --quick) the exit status is 1 when the 2-process run's are
// further than the tolerances. Only short runs can be held to rounding-level tolerances: float
// training amplifies the rounding differences of a split batch step after step.
//   cl_parallel [--benchmark textcl] [--methods i_lora] [--tasks 2] [--steps 40] [--eval-limit 10]
//               [--repeats 3] [--cores N] [--out DIR] [--quick]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "cl_bases.hpp"
#include "everlora/core/error.hpp"
#include "everlora/io/atomic_file.hpp"
#include "everlora/metrics/svg.hpp"

namespace {

using everlora::Error;
using everlora::ErrorKind;
using everlora::Index;
namespace fs = std::filesystem;

struct Settings {
  std::string benchmark = "textcl", methods = "i_lora", out = "cl_parallel_results", cache = bench::default_cache_dir();
  std::string base_dtype = "f32";  // float products: the 2 processes' rounding then differs only in the sums' order
  Index tasks = 2, steps = 40, eval_limit = 10, cores = 0;
  int repeats = 3;
  double loss_tolerance = 1e-5;  // relative, on each task's final loss
  double r_tolerance = 0;        // points of R
  bool check = false;
  bool quick = false;
};

/// How cl_run is started: processes × threads each.
struct Layout {
  Index processes, threads;
  std::string name() const {
    return std::to_string(processes) + (processes > 1 ? " processes x " : " process x ") + std::to_string(threads) +
           (threads > 1 ? " threads" : " thread");
  }
};

/// What one cl_run reports of one method.
struct MethodOutcome {
  std::vector<std::vector<double>> r;
  std::vector<double> final_loss;
};

/// One run of cl_run under mpirun.
struct RunOutcome {
  double train_seconds = 0;
  Index steps = 0;
  double payload_bytes = 0;  // allreduce payload of all steps, as cl_run counts it
  double sent_bytes = 0;     // process 0's point-to-point bytes (pml monitoring), whole run
  double peak_rss_mb = 0;    // process 0's peak resident memory over the methods
  std::map<std::string, MethodOutcome> methods;
};

std::string quoted(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// The bytes process 0 sent to other processes, from Open MPI's monitoring file `<prefix>.0.prof`
/// (lines "I <from> <to> <n> bytes <m> msgs sent …": internal traffic, collectives included).
double sent_bytes(const std::string& prefix) {
  std::ifstream in(prefix + ".0.prof");
  if (!in) throw Error(ErrorKind::io, "cl_parallel: no monitoring file " + prefix + ".0.prof (is mpirun Open MPI's?)");
  double total = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("I\t", 0) != 0 && line.rfind("E\t", 0) != 0) continue;
    char kind = 0;
    long from = 0, to = 0;
    double bytes = 0;
    if (std::sscanf(line.c_str(), "%c %ld %ld %lf bytes", &kind, &from, &to, &bytes) == 4) total += bytes;
  }
  return total;
}

RunOutcome run_cl_run(const std::string& cl_run, const Layout& layout, const Settings& s, const std::string& dir) {
  std::error_code failed;
  fs::create_directories(dir, failed);
  if (failed) throw Error(ErrorKind::io, "cl_parallel: cannot create '" + dir + "': " + failed.message());
  const std::string traffic = dir + "/traffic";
  std::string command = quoted(EVERLORA_MPIEXEC) + " --allow-run-as-root --oversubscribe --bind-to none -np " +
                        std::to_string(layout.processes) + " -x OMP_NUM_THREADS=" + std::to_string(layout.threads) +
                        " --mca pml_monitoring_enable 2 --mca pml_monitoring_enable_output 3 --mca pml_monitoring_filename " +
                        quoted(traffic) + " " + quoted(cl_run) + " --benchmark " + quoted(s.benchmark) + " --methods " + quoted(s.methods) +
                        " --tasks " + std::to_string(s.tasks) + " --eval-limit " + std::to_string(s.eval_limit) + " --cache " + quoted(s.cache) +
                        " --base-dtype " + quoted(s.base_dtype) + " --out " + quoted(dir + "/report");
  if (s.steps > 0) command += " --steps " + std::to_string(s.steps);
  if (s.quick) command += " --quick";
  command += " > " + quoted(dir + "/stdout.jsonl") + " 2> " + quoted(dir + "/stderr.log");
  if (std::system(command.c_str()) != 0)
    throw Error(ErrorKind::io, "cl_parallel: cl_run failed as " + layout.name() + "; see " + dir + "/stderr.log");

  RunOutcome out;
  std::ifstream lines(dir + "/stdout.jsonl");
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || record.value("bench", "") != "cl_run") continue;
    const Index steps = record.at("steps").get<Index>();
    out.train_seconds += record.at("train_seconds").get<double>();
    out.steps += steps;
    out.payload_bytes += record.at("allreduce_bytes_per_step").get<double>() * static_cast<double>(steps);
    out.peak_rss_mb = std::max(out.peak_rss_mb, record.at("peak_rss_mb").get<double>());
    out.methods[record.at("method").get<std::string>()] = {record.at("R").get<std::vector<std::vector<double>>>(),
                                                          record.at("final_loss").get<std::vector<double>>()};
  }
  if (out.steps == 0) throw Error(ErrorKind::format, "cl_parallel: cl_run reported no steps in " + dir + "/stdout.jsonl");
  out.sent_bytes = sent_bytes(traffic);
  return out;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

/// The largest |ΔR| and relative |Δ final loss| between two runs of the same methods.
std::pair<double, double> largest_gaps(const RunOutcome& a, const RunOutcome& b) {
  double r_gap = 0, loss_gap = 0;
  for (const auto& [method, x] : a.methods) {
    const auto found = b.methods.find(method);
    if (found == b.methods.end()) throw Error(ErrorKind::format, "cl_parallel: method " + method + " is missing from a run");
    const MethodOutcome& y = found->second;
    for (std::size_t i = 0; i < x.r.size() && i < y.r.size(); ++i)
      for (std::size_t j = 0; j < x.r[i].size() && j < y.r[i].size(); ++j) r_gap = std::max(r_gap, std::abs(x.r[i][j] - y.r[i][j]));
    for (std::size_t t = 0; t < x.final_loss.size() && t < y.final_loss.size(); ++t)
      loss_gap = std::max(loss_gap, std::abs(x.final_loss[t] - y.final_loss[t]) / std::max(1e-12, std::abs(x.final_loss[t])));
  }
  return {r_gap, loss_gap};
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"cl_run as 1 process and as 2 MPI processes: time and bytes per step, and the same R"};
  app.add_option("--benchmark", s.benchmark, "cl_run's benchmark")->capture_default_str();
  app.add_option("--methods", s.methods, "cl_run's methods")->capture_default_str();
  app.add_option("--tasks", s.tasks, "first N tasks of the stream")->capture_default_str();
  app.add_option("--steps", s.steps, "steps per task")->capture_default_str();
  app.add_option("--eval-limit", s.eval_limit, "examples scored per task")->capture_default_str();
  app.add_option("--repeats", s.repeats, "runs of each layout; the median step time is reported")->capture_default_str();
  app.add_option("--cores", s.cores, "threads of the 1-process run, split over the 2 processes (0: all cores)");
  app.add_flag("--check", s.check, "exit with 1 when the 2-process run's R or final losses are past the tolerances");
  app.add_option("--loss-tolerance", s.loss_tolerance, "with --check: largest relative difference of a final loss")
      ->capture_default_str();
  app.add_option("--r-tolerance", s.r_tolerance, "with --check: largest difference of an entry of R, in points")->capture_default_str();
  app.add_option("--base-dtype", s.base_dtype, "cl_run's --base-dtype (bf16 rounds each process's activations on their own, past the default tolerances)")
      ->capture_default_str();
  app.add_option("--cache", s.cache, "cl_run's cache of benchmarks and bases")->capture_default_str();
  app.add_option("--out", s.out, "folder for the runs' outputs and parallel.svg")->capture_default_str();
  app.add_flag("--quick", s.quick, "cl_run --quick, one repeat (the test suite's check)");
  CLI11_PARSE(app, argc, argv);
  if (s.quick) {
    s.repeats = 1, s.steps = 6, s.eval_limit = 3, s.methods = "seq_lora,i_lora+am_lora,sapt,moa", s.cache = "cl_run_quick_cache_mpi";
    s.check = true;
  }
  if (s.cores <= 0) s.cores = std::max<Index>(2, static_cast<Index>(std::thread::hardware_concurrency()));

  try {
    if (s.repeats < 1) throw Error(ErrorKind::config, "--repeats must be >= 1");
    const std::string cl_run = (fs::read_symlink("/proc/self/exe").parent_path() / "cl_run").string();
    const Index half = std::max<Index>(1, s.cores / 2);
    const std::vector<Layout> layouts{{1, s.cores}, {2, half}, {1, half}};
    std::vector<std::vector<RunOutcome>> runs(layouts.size());
    for (int rep = 0; rep < s.repeats; ++rep)  // interleaved, so that drift in the machine hits both
      for (std::size_t l = 0; l < layouts.size(); ++l) {
        std::fprintf(stderr, "cl_parallel: %s, run %d of %d\n", layouts[l].name().c_str(), rep + 1, s.repeats);
        const std::string dir = s.out + "/p" + std::to_string(layouts[l].processes) + "x" + std::to_string(layouts[l].threads) + "-run" +
                                std::to_string(rep + 1);
        runs[l].push_back(run_cl_run(cl_run, layouts[l], s, dir));
      }

    std::fprintf(stderr, "\n%-26s %12s %8s %16s %16s %10s %12s %10s\n", "layout", "ms / step", "speedup", "payload B/step",
                 "sent B/step", "max |dR|", "max dloss", "peak MB");
    double base_step = 0;
    std::vector<std::pair<double, double>> gaps;
    std::vector<double> step_ms;
    std::vector<std::string> names;
    for (std::size_t l = 0; l < layouts.size(); ++l) {
      std::vector<double> per_step;
      for (const RunOutcome& r : runs[l]) per_step.push_back(r.train_seconds / static_cast<double>(r.steps));
      const double step = median(per_step);
      if (l == 0) base_step = step;
      const RunOutcome& first = runs[l].front();
      const double payload = first.payload_bytes / static_cast<double>(first.steps);
      const double sent = first.sent_bytes / static_cast<double>(first.steps);
      const auto [r_gap, loss_gap] = largest_gaps(runs[0].front(), first);
      gaps.emplace_back(r_gap, loss_gap);
      std::fprintf(stderr, "%-26s %12.2f %8.2f %16.0f %16.0f %10.3g %12.3g %10.1f\n", layouts[l].name().c_str(), 1e3 * step,
                   base_step / step, payload, sent, r_gap, loss_gap, first.peak_rss_mb);
      bench::emit({{"bench", "cl_parallel"}, {"benchmark", s.benchmark}, {"methods", s.methods}, {"processes", layouts[l].processes},
                   {"threads_per_process", layouts[l].threads}, {"step_ms_median", 1e3 * step}, {"speedup", base_step / step},
                   {"allreduce_payload_bytes_per_step", payload}, {"sent_bytes_per_step", sent}, {"max_abs_dR", r_gap},
                   {"max_rel_dloss", loss_gap}, {"peak_rss_mb_process0", first.peak_rss_mb}, {"repeats", s.repeats},
                   {"steps", first.steps}});
      step_ms.push_back(1e3 * step);
      names.push_back(layouts[l].name());
    }
    everlora::write_file_atomically(s.out + "/parallel.svg",
                                    everlora::svg_bar_chart(names, {{"ms per step (median)", step_ms}},
                                                            "cl_run " + s.benchmark + " (" + s.methods + "): time per training step", "ms"));
    std::fprintf(stderr, "wrote %s/parallel.svg\n", s.out.c_str());
    const auto [r_gap, loss_gap] = gaps[1];
    if (s.check && (r_gap > s.r_tolerance || loss_gap > s.loss_tolerance)) {
      std::fprintf(stderr, "cl_parallel: the 2-process run's R (%g points) or final losses (%g relative) differ from the 1-process "
                           "run's by more than --r-tolerance %g or --loss-tolerance %g\n", r_gap, loss_gap, s.r_tolerance, s.loss_tolerance);
      return 1;
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "cl_parallel: %s\n", e.what());
    return 1;
  }
  return 0;
}
