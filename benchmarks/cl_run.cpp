// cl_run — runs continual-learning methods on a benchmark and writes the accuracy matrix R, the
// pinned metrics (AA, BWT, FWT, F.Ra, LA), results.json, CSV and SVG plots (BENCHMARKS.md).
//   cl_run --benchmark textcl|domains|rotated-fmnist|<folder> --methods seq_lora,inc_lora
//          [--seed N] [--out DIR] [--base CHECKPOINT|MODEL_DIR [--base-dtype auto|bf16|f32]] [--steps N | --epochs N] [--list] [--quick]
//          [--checkpoint DIR [--checkpoint-every N] | --resume DIR]
// The bundled text benchmarks are built into the cache folder on first use (from Debian's
// packages), and so is the pretrained base each benchmark starts from (cl_bases.hpp); --base names
// a GPT checkpoint of its own or a Hugging Face model folder (Llama, Qwen, Mistral, GPT-2; hf_base.hpp).
// Built with EVERLORA_MPI, `mpirun -np N cl_run …` trains data-parallel over the N processes
// (docs/distributed.md): the same R as one process, process 0 alone writes reports and checkpoints.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "everlora/data/builders/domains.hpp"
#include "everlora/data/builders/textcl.hpp"
#include "cl_bases.hpp"
#include "hf_base.hpp"
#ifdef EVERLORA_WITH_MPI
#include "everlora/distributed/mpi.hpp"
#endif

namespace {

using namespace everlora;
namespace fs = std::filesystem;

struct Settings {
  std::string benchmark = "textcl";
  std::string methods;  // empty: every available one
  std::uint64_t seed = 1;
  std::string out;
  std::string base, tokenizer, targets;
  std::string base_dtype = "auto";  ///< a model folder's frozen matrices: "bf16", "f32" or "auto"
  bool bf16_base = false;           ///< what base_dtype resolved to
  std::string metric;      ///< scoring of every classification task: "exact_match", "rank" or "" (the stream's)
  bool ceiling = true;     ///< measure each task's single-task ceiling ST (text benchmarks)
  std::string cache = bench::default_cache_dir();
  Index steps = 0, epochs = 0, batch = 16, rank = 8, eval_limit = 0, tasks = 0;
  double lr = 0, alpha = 16, lora_dropout = 0;
  bool quick = false, demo = false, sapt_standardize = false;
  // AM-LoRA
  std::string gate_fn = "sigmoid";
  double am_l1 = StrategyOptions{}.am_l1_lambda;
  Index mixer_dim = AttentionMixerConfig{}.attention_dim;
  bool null_expert = false;
  // I-LoRA
  double ema_decay = ILoraConfig{}.decay, consistency = ILoraConfig{}.consistency;
  std::string consistency_target = "slow";
  // SAPT
  double reflection = SaptConfig{}.reflection, pseudo_fraction = SaptConfig{}.pseudo_fraction;
  std::string pseudo = "automatic", sapt_pool = "max";
  // MoA
  Index top_k = MoaConfig{}.top_k, router_layer = MoaConfig{}.input_layer, router_buffer = MoaConfig{}.prompt_buffer;
  Index router_steps = MoaConfig{}.router_steps;
  // The connectivity probe between the states after tasks K−1 and K (0: off).
  Index connectivity = 0, probe_limit = 50;
  // Run checkpoints: one folder per method under `checkpoint` (empty: none).
  std::string checkpoint;
  Index checkpoint_every = 0;
  bool resume = false;
  // Data-parallel training (null: this process alone); only the chief (process 0) reports.
  Communicator* communicator = nullptr;
  bool chief = true;
};

#ifndef EVERLORA_WITH_MPI
/// The number of processes an MPI launcher started this one among (1 without a launcher): Open
/// MPI's, MPICH's and Slurm's variables.
Index launched_processes() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"})
    if (const char* value = std::getenv(name)) return std::max<Index>(1, std::atol(value));
  return 1;
}
#endif

/// The stream folder of a text benchmark: a bundled one (built into the cache if missing) or a
/// user's folder as it is. A bundled one is built with its builder's own seed, not --seed: the
/// cache is shared by every run, so every seed of a method trains and scores on the same data.
std::string text_stream_dir(const Settings& s) {
  if (s.benchmark != "textcl" && s.benchmark != "domains") return s.benchmark;
  // textcl-v2: whole inputs of up to 160 bytes, for the bundled base (v1 cut them to 96 bytes).
  const std::string dir = s.cache + "/" + s.benchmark + (s.benchmark == "textcl" ? "-v2" : "") + (s.quick ? "-quick" : "");
  if (fs::exists(dir + "/stream.json")) return dir;
  std::fprintf(stderr, "cl_run: building %s into %s\n", s.benchmark.c_str(), dir.c_str());
  if (s.benchmark == "textcl") {
    TextclOptions o;  // the pinned options, whose dev and test inputs the bundled base never saw
    if (s.quick) o.train_per_label = 6, o.dev_per_label = 2, o.test_per_label = 2;
    save_textcl(dir, o);
  } else {
    DomainsOptions o;
    if (s.quick) o.train_docs = 6, o.dev_docs = 2, o.test_docs = 2;
    save_domains(dir, o);
  }
  return dir;
}

/// The bundled base, shipped with the sources (docs/base_model.md).
const std::string kBundledBase = std::string(EVERLORA_SOURCE_DIR) + "/models/everlora-base";

/// Whether a text run uses the bundled base: no --base, and not domains (next-byte modelling on
/// the byte GPT).
bool uses_bundled_base(const Settings& s) { return s.base.empty() && s.benchmark != "domains" && s.benchmark != "rotated-fmnist"; }

/// The base of a text benchmark: --base, else the bundled base (models/everlora-base, its
/// fingerprint checked), else for domains (next-byte language modelling) the byte GPT pretrained
/// on textcl's corpus (which holds none of its dev or test examples), built if needed.
std::string text_base_path(const Settings& s, const bench::BaseRecipe& recipe) {
  if (!s.base.empty()) return s.base;
  if (uses_bundled_base(s)) {
    bench::check_bundled_base(kBundledBase);
    return kBundledBase;
  }
  Settings textcl = s;
  textcl.benchmark = "textcl";
  const std::string corpus = text_stream_dir(textcl) + "/pretrain.txt";
  // The recipe is in the name: a cache from an older recipe is not mistaken for this one.
  const std::string path = s.cache + "/text_base-d" + std::to_string(recipe.gpt.d_model) + "-l" + std::to_string(recipe.gpt.n_layers) +
                           "-s" + std::to_string(recipe.steps) + ".safetensors";
  bench::text_base(path, corpus, recipe);
  return path;
}

/// The config.json of model folder `dir`.
DecoderConfig load_model_config(const std::string& dir) {
  return decoder_config_from_json(read_file(dir + "/config.json"), dir + "/config.json");
}

struct Defaults {
  Index steps;
  double lr;
  std::vector<std::string> targets;
};

Defaults defaults_for(bool image, const Settings& s) {
  Defaults d{image ? 150 : 200, image ? 2e-3 : 5e-3, image ? std::vector<std::string>{"fc1", "fc2", "fc3"} : std::vector<std::string>{"q", "k", "v", "o", "fc1", "fc2"}};
  if (s.demo && image) d.steps = 100;
  if (s.demo && !image) d.steps = 60;  // 30% of the budget: MTL at least 60 AA on seeds 1-3 in under 5 minutes (1e-2 diverges on the bundled base)
  if (s.quick) d.steps = 3;
  if (!image && (bench::is_model_folder(s.base) || uses_bundled_base(s)))
    d.targets = load_model_config(s.base.empty() ? kBundledBase : s.base).projection_names();
  if (!s.targets.empty()) d.targets = bench::split_list(s.targets);
  if (s.steps > 0) d.steps = s.steps;
  if (s.lr > 0) d.lr = s.lr;
  return d;
}

/// One method's row of the report, and its mixers' routing when it has any (AM-LoRA).
struct MethodRun {
  MethodResult row;
  std::optional<MixerRouting> routing;
  std::optional<JumpMasks> masks;
  std::optional<RoutingReport> example_routing;  ///< SAPT's and MoA's routers
  std::vector<ConnectivityCurve> connectivity;  ///< both parametrisations, when asked for
  Index steps = 0;                 ///< optimizer steps taken
  std::uint64_t step_bytes = 0;    ///< bytes they passed to allreduce (data-parallel runs)
  std::vector<double> final_loss;  ///< per task, the mean loss of its last 10% of steps
};

/// The probe between the states after tasks k−1 and k (1-based k), (A,B) and ΔW interpolation
/// (ΔW only when every combiner's weights are constant, as for merging).
std::vector<ConnectivityCurve> probe_connectivity(Workload<float>& workload, const std::vector<ParameterState<float>>& states,
                                                  const Settings& s, const std::string& method) {
  const auto k = static_cast<std::size_t>(s.connectivity);
  if (auto* text = dynamic_cast<TextWorkload<float>*>(&workload)) text->set_eval_limit(s.probe_limit);
  std::vector<ConnectivityCurve> curves;
  for (Interpolation mode : {Interpolation::ab, Interpolation::delta_w}) {
    if (mode == Interpolation::delta_w && !constant_combiner_weights(workload.model())) {
      std::fprintf(stderr, "%s: no ΔW interpolation (its combiner's weights depend on the input); (A,B) only\n", method.c_str());
      continue;
    }
    std::fprintf(stderr, "%s: connectivity probe %s between tasks %zu and %zu\n", method.c_str(), to_string(mode), k - 1, k);
    curves.push_back({mode, connectivity_probe(workload, states[k - 2], states[k - 1], s.connectivity - 2, s.connectivity - 1, mode)});
  }
  return curves;
}

/// Sets the metric of every classification task of `stream` ("": leaves the stream's own).
void set_metric(Stream& stream, const std::string& metric) {
  if (metric.empty()) return;
  if (metric != "rank" && metric != "exact_match")
    throw Error(ErrorKind::config, "--metric '" + metric + "' is not exact_match or rank");
  for (Task& task : stream.tasks)
    if (!task.spec.labels.empty()) task.spec.metric = metric == "rank" ? TaskMetric::rank : TaskMetric::exact_match;
}

/// Each task's metric and chance level: the percent of the scored test examples
/// (limited_examples of eval_limit, 0: all) that carry the most common output; NaN for a task
/// without labels. The ceilings are left NaN.
TaskBounds chance_levels(const Stream& stream, Index eval_limit) {
  TaskBounds bounds;
  for (const Task& task : stream.tasks) {
    bounds.metric.push_back(to_string(task.spec.metric));
    const std::vector<Example> scored = limited_examples(task.test, eval_limit);
    const std::size_t count = scored.size();
    std::map<std::string, std::size_t> seen;
    std::size_t most = 0;
    for (const Example& ex : scored) most = std::max(most, ++seen[ex.output]);
    bounds.chance.push_back(task.spec.labels.empty() || count == 0 ? std::nan("") : 100.0 * static_cast<double>(most) / static_cast<double>(count));
    bounds.ceiling.push_back(std::nan(""));
  }
  return bounds;
}

/// Runs one method from a fresh copy of the base.
template <class MakeWorkload>
MethodRun run_method(const std::string& method, MakeWorkload&& make_workload, const Defaults& d, const Settings& s, bool image) {
  release_cached_memory();  // the previous method's cached blocks
  bench::reset_peak_rss();   // each method's own peak, not the process's so far
  auto workload = make_workload();
  StrategyOptions options;
  options.lora.r = s.rank;
  options.lora.alpha = s.alpha;
  options.lora.dropout = s.lora_dropout;
  options.lora.target_modules = d.targets;
  options.lora.seed = s.seed;
  options.seed = s.seed;
  options.am_l1_lambda = s.am_l1;
  options.mixer.gate = parse_gate_function(s.gate_fn);
  options.mixer.attention_dim = s.mixer_dim;
  options.mixer.null_expert = s.null_expert;
  options.i_lora.decay = s.ema_decay;
  options.i_lora.consistency = s.consistency;
  options.i_lora.target = parse_consistency_target(s.consistency_target);
  options.sapt.reflection = s.reflection;
  options.sapt.pseudo_fraction = s.pseudo_fraction;
  options.sapt.pseudo = parse_pseudo_source(s.pseudo);
  options.sapt.pool = parse_sequence_pool(s.sapt_pool);
  options.sapt.standardize = s.sapt_standardize;
  options.moa.top_k = s.top_k;
  options.moa.input_layer = s.router_layer;
  options.moa.prompt_buffer = s.router_buffer;
  options.moa.router_steps = s.router_steps;
  auto strategy = make_strategy<float>(method, options);
  TrainerOptions trainer;
  trainer.steps_per_task = s.epochs > 0 ? 0 : d.steps;
  trainer.epochs = std::max<Index>(1, s.epochs);
  trainer.batch_size = image ? 64 : s.batch;
  trainer.lr = d.lr;
  trainer.seed = s.seed;
  trainer.communicator = s.communicator;
  if (!s.checkpoint.empty()) {
    trainer.checkpoint_dir = s.checkpoint + "/" + method;
    trainer.checkpoint_every = s.checkpoint_every;
    // What the workload was built from, beside what the trainer records itself.
    trainer.run_config = {{"benchmark", s.benchmark}, {"quick", s.quick}, {"demo", s.demo}, {"tasks", s.tasks},
                          {"eval_limit", s.eval_limit}, {"base", s.base}};
    trainer.resume = s.resume && has_run_checkpoint(trainer.checkpoint_dir);  // a method not reached yet starts afresh
    if (trainer.resume && s.chief) std::fprintf(stderr, "%s: resuming from %s\n", method.c_str(), trainer.checkpoint_dir.c_str());
  }
  std::vector<ParameterState<float>> states;  // after each task, for the connectivity probe
  const auto keep_state = [&](Index) { states.push_back(capture_adapted_state(workload->model())); };
  const ContinualResult result = train_continual(*workload, *strategy, trainer,
                                                 s.connectivity > 0 ? std::function<void(Index)>(keep_state) : nullptr);
  MethodRun run{{method, result.r, compute_metrics(result.r), result.train_seconds, bench::peak_rss_mb(), std::nullopt, ""}, std::nullopt, std::nullopt, std::nullopt, {}, 0, 0, {}};
  run.steps = result.steps, run.step_bytes = result.step_bytes, run.final_loss = result.final_loss;
  if (!result.views.empty()) run.row.r_alt = result.views.front().second, run.row.r_alt_label = result.views.front().first;
  if (!s.chief) return run;  // the reports below are the chief's (and computed on the whole splits)
  strategy->begin_scoring(*workload, "");  // the reports describe the model that was scored
  if (!attention_mixers(workload->model()).empty()) run.routing = measure_mixer_routing(*workload, Split::test);
  if (const auto* jump = dynamic_cast<const JumpLora<float>*>(strategy.get())) run.masks = jump->masks();
  if (workload->router()) run.example_routing = measure_example_routing(*workload, *workload->router(), Split::test, s.eval_limit);
  if (s.connectivity > 0) run.connectivity = probe_connectivity(*workload, states, s, method);
  strategy->end_scoring(*workload);
  if (bench::is_model_folder(s.base)) bench::save_method_adapters(workload->model(), s.out + "/" + method + "_peft", s.base, options.lora);
  return run;
}

/// The single-task ceiling of every task: SeqLoRA on a stream of that task alone (a fresh expert,
/// the same budget and settings), scored on it after training.
std::vector<double> single_task_ceilings(const Stream& stream,
                                         const std::function<std::unique_ptr<Workload<float>>(const Stream&)>& make_text_workload,
                                         const Defaults& d, const Settings& s) {
  Settings quiet = s;  // no reports, adapters or checkpoints of these runs
  quiet.chief = false, quiet.checkpoint.clear(), quiet.resume = false, quiet.connectivity = 0;
  std::vector<double> ceilings;
  for (const Task& task : stream.tasks) {
    if (s.chief) std::fprintf(stderr, "cl_run: single-task ceiling of %s\n", task.spec.name.c_str());
    const Stream alone{stream.name, {task}};
    const MethodRun run = run_method("seq_lora", [&] { return make_text_workload(alone); }, d, quiet, false);
    ceilings.push_back(run.row.r.at(1, 0));
  }
  return ceilings;
}

/// "layer,<task>,…" and one row per layer of `values` [layer][task].
std::string per_layer_csv(const std::vector<std::string>& layers, const std::vector<std::string>& tasks,
                          const std::vector<std::vector<double>>& values) {
  std::string csv = "layer";
  for (const auto& t : tasks) csv += "," + t;
  csv += "\n";
  for (std::size_t l = 0; l < layers.size(); ++l) {
    csv += layers[l];
    for (double v : values[l]) csv += "," + std::to_string(v);
    csv += "\n";
  }
  return csv;
}

/// The mean of every entry of `values` (0 when there is none).
double mean_of(const std::vector<std::vector<double>>& values) {
  double total = 0;
  std::size_t count = 0;
  for (const auto& row : values)
    for (double v : row) total += v, ++count;
  return count ? total / static_cast<double>(count) : 0.0;
}

/// <out>/<method>_masks.svg (overlap of the tasks' masks) and <out>/<method>_masks.csv (the share
/// of entries each task kept, per layer).
void write_masks(const std::string& out, const std::string& method, const std::vector<std::string>& tasks, const JumpMasks& masks) {
  const std::size_t n = masks.kept.size();
  std::vector<std::vector<double>> overlap(n, std::vector<double>(n));
  double off_diagonal = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      overlap[i][j] = 100.0 * masks.overlap(i, j);
      if (i != j) off_diagonal += overlap[i][j];
    }
  std::vector<std::vector<double>> density(masks.layers.size(), std::vector<double>(n));
  for (std::size_t l = 0; l < masks.layers.size(); ++l)
    for (std::size_t t = 0; t < n; ++t) density[l][t] = masks.density(t, l);
  const std::vector<std::string> names(tasks.begin(), tasks.begin() + static_cast<std::ptrdiff_t>(n));
  write_file_atomically(out + "/" + method + "_masks.svg",
                        svg_heatmap(overlap, names, names, method + ": overlap (%) of the tasks' masks, |Mi ∩ Mj| / |Mi ∪ Mj|, layer mean"));
  write_file_atomically(out + "/" + method + "_masks.csv", per_layer_csv(masks.layers, names, density));
  std::fprintf(stderr, "%s: entries kept %.1f%% (mean over layers and tasks), mask overlap between tasks %.1f%%; %s/%s_masks.svg\n",
               method.c_str(), 100.0 * mean_of(density), n > 1 ? off_diagonal / static_cast<double>(n * (n - 1)) : 0.0,
               out.c_str(), method.c_str());
}

/// <out>/<method>_routing.svg: `share` [task][expert] in [0, 1], as a heat map in percent.
void write_routing_heatmap(const std::string& out, const std::string& method, const std::vector<std::string>& tasks,
                           std::vector<std::vector<double>> share, const std::string& what) {
  std::vector<std::string> experts;
  for (std::size_t e = 0; e < tasks.size(); ++e) experts.push_back(task_expert_name(static_cast<Index>(e)));
  for (auto& row : share)
    for (auto& v : row) v *= 100.0;
  write_file_atomically(out + "/" + method + "_routing.svg",
                        svg_heatmap(share, tasks, experts, method + ": " + what + " (%) of each expert (columns) on each task's test inputs (rows)"));
}

/// <out>/<method>_routing.svg (mean gate of each expert on each task's test inputs) and
/// <out>/<method>_gate_sparsity.csv (share of gates below 0.01, per layer and task).
void write_routing(const std::string& out, const std::string& method, const std::vector<std::string>& tasks, const MixerRouting& routing) {
  write_routing_heatmap(out, method, tasks, routing.mean_gate, "mean gate");
  write_file_atomically(out + "/" + method + "_gate_sparsity.csv", per_layer_csv(routing.layers, tasks, routing.sparsity));
  std::fprintf(stderr, "%s: gates below 0.01: %.1f%% (mean over layers and tasks); routing in %s/%s_routing.svg\n", method.c_str(),
               100.0 * mean_of(routing.sparsity), out.c_str(), method.c_str());
}

/// <out>/<method>_routing.svg (mean routing weight of each expert on each task's test inputs) and
/// <out>/<method>_router.csv (per task: the percent of its inputs whose top expert is its own).
void write_example_routing(const std::string& out, const std::string& method, const std::vector<std::string>& tasks,
                           const RoutingReport& routing) {
  write_routing_heatmap(out, method, tasks, routing.mean_weight, "mean routing weight");
  std::string csv = "task,own_expert_percent\n", line;
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    csv += tasks[t] + "," + std::to_string(routing.own_expert[t]) + "\n";
    char cell[64];
    std::snprintf(cell, sizeof cell, "%s%s %.1f", line.empty() ? "" : ", ", tasks[t].c_str(), routing.own_expert[t]);
    line += cell;
  }
  write_file_atomically(out + "/" + method + "_router.csv", csv);
  std::fprintf(stderr, "%s: test inputs whose top expert is their own task's (%%): %s; routing in %s/%s_routing.svg\n", method.c_str(),
               line.c_str(), out.c_str(), method.c_str());
}

/// <out>/<method>_connectivity.csv (loss and score of both tasks at every α) and .svg (scores).
void write_connectivity(const std::string& out, const std::string& method, const std::vector<std::string>& tasks, Index k,
                        const std::vector<ConnectivityCurve>& curves) {
  const std::string& from = tasks.at(static_cast<std::size_t>(k - 2));
  const std::string& to = tasks.at(static_cast<std::size_t>(k - 1));
  write_file_atomically(out + "/" + method + "_connectivity.csv", connectivity_csv(curves, from, to));
  write_file_atomically(out + "/" + method + "_connectivity.svg",
                        connectivity_svg(curves, from, to, method + ": scores from the state after " + from + " (α = 0) to after " + to + " (α = 1)"));
  std::fprintf(stderr, "%s: connectivity probe in %s/%s_connectivity.csv and .svg\n", method.c_str(), out.c_str(), method.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
#ifdef EVERLORA_WITH_MPI
  std::optional<MpiSession> mpi;
  std::optional<MpiCommunicator> world;
  try {
    mpi.emplace(argc, argv);
    world.emplace();
  } catch (const Error& e) {
    std::fprintf(stderr, "cl_run: %s\n", e.what());
    return 1;
  }
  if (world->size() > 1) s.communicator = &*world, s.chief = world->rank() == 0;
#else
  if (launched_processes() > 1) {
    std::fprintf(stderr, "cl_run: started as one of %td processes, but built without MPI: each would run alone. "
                         "Configure with -DEVERLORA_MPI=ON (docs/distributed.md).\n", launched_processes());
    return 1;
  }
#endif
  CLI::App app{"Run continual-learning methods on a benchmark; write R, metrics, results.json, CSV and SVG."};
  bool list = false;
  app.add_option("--benchmark", s.benchmark, "textcl, domains, rotated-fmnist or a stream folder")->capture_default_str();
  app.add_option("--methods", s.methods, "comma-separated method names (default: every available one)");
  app.add_option("--seed", s.seed, "seed of the batch order, the adapters' initialisation and the methods' sampling (the bundled benchmarks and bases are built once, with seeds of their own)")->capture_default_str();
  app.add_option("--out", s.out, "output folder (default: cl_results/<benchmark>)");
  app.add_option("--base", s.base, "base model instead of the cached default: a GPT checkpoint (.safetensors) or a Hugging Face model folder (config.json, model.safetensors, tokenizer.json; llama, mistral, qwen2, qwen3, gpt2)");
  app.add_option("--base-dtype", s.base_dtype, "a model folder's frozen base: bf16 (half its memory, its products on the CPU's bf16 instructions where it has them; LoRA stays float), f32, or auto: bf16 when the checkpoint is stored in bfloat16 (config.json's torch_dtype, as the bundled base) and no method trains the base (seq_ft)")
      ->check(CLI::IsMember({"auto", "bf16", "f32"}))
      ->capture_default_str();
  app.add_option("--metric", s.metric, "score every classification task by exact_match (greedy output) or rank (most likely label); default: the stream's");
  app.add_flag("!--no-st", s.ceiling, "skip the single-task ceilings ST (one fresh expert per task, trained on it alone)");
  app.add_option("--tokenizer", s.tokenizer, "folder of tokenizer.json for a model folder --base (default: the model folder)");
  app.add_option("--targets", s.targets, "comma-separated LoRA target modules (default: q,k,v,o,fc1,fc2 on the GPT, every projection of a model folder)");
  app.add_option("--cache", s.cache, "folder for built benchmarks and pretrained bases")->capture_default_str();
  app.add_option("--steps", s.steps, "training steps per task (default: the benchmark's budget)");
  app.add_option("--epochs", s.epochs, "passes over each task's data instead of --steps");
  app.add_option("--batch", s.batch, "examples per step (text benchmarks)")->capture_default_str();
  app.add_option("--lr", s.lr, "peak learning rate (default: the benchmark's)");
  app.add_option("--rank", s.rank, "LoRA rank r")->capture_default_str();
  app.add_option("--alpha", s.alpha, "LoRA alpha")->capture_default_str();
  app.add_option("--lora-dropout", s.lora_dropout, "dropout on the LoRA adapters' input while training (PEFT's lora_dropout)")->capture_default_str();
  app.add_option("--tasks", s.tasks, "run only the first N tasks of the stream (0: all; --demo: 3)")->capture_default_str();
  app.add_option("--eval-limit", s.eval_limit, "score at most this many test examples per task, the labels taken in turn (0: all)")->capture_default_str();
  app.add_option("--gate-fn", s.gate_fn, "AM-LoRA's gate function: sigmoid, softmax or sparsemax")->capture_default_str();
  app.add_option("--am-l1", s.am_l1, "AM-LoRA's weight of the L1 push on the gates")->capture_default_str();
  app.add_option("--mixer-dim", s.mixer_dim, "AM-LoRA's attention width d_a")->capture_default_str();
  app.add_flag("--null-expert", s.null_expert, "AM-LoRA: add the null expert (score 0) before the gate function");
  app.add_option("--ema-decay", s.ema_decay, "I-LoRA's λ: slow <- λ·slow + (1-λ)·fast after every step")->capture_default_str();
  app.add_option("--consistency", s.consistency, "I-LoRA's γ, the weight of the hidden-state MSE")->capture_default_str();
  app.add_option("--consistency-target", s.consistency_target, "I-LoRA's target: slow or max (CLS-ER)")->capture_default_str();
  app.add_option("--reflection", s.reflection, "SAPT's λ, the weight of attentive reflection")->capture_default_str();
  app.add_option("--pseudo", s.pseudo, "SAPT's pseudo inputs: automatic, generated (by the model) or stored (real)")
      ->capture_default_str();
  app.add_option("--sapt-pool", s.sapt_pool, "SAPT: how the query summarises a prompt, max (the paper) or mean")
      ->capture_default_str();
  app.add_flag("--sapt-standardize", s.sapt_standardize,
               "SAPT: standardise the prompt summaries per feature (statistics of task 1) before the query net");
  app.add_option("--pseudo-fraction", s.pseudo_fraction, "SAPT: share of each task's training set kept as pseudo inputs")
      ->capture_default_str();
  app.add_option("--top-k", s.top_k, "MoA: experts mixed per example at inference (1: explicit routing)")->capture_default_str();
  app.add_option("--router-layer", s.router_layer, "MoA's router input: 0 = prompt embeddings, k = base state after block k")
      ->capture_default_str();
  app.add_option("--router-buffer", s.router_buffer, "MoA: labelled prompts kept per domain to fit the router")->capture_default_str();
  app.add_option("--router-steps", s.router_steps, "MoA: full-batch steps of each router refit")->capture_default_str();
  app.add_option("--connectivity", s.connectivity,
                 "probe the loss and score along the line between the states after tasks K-1 and K (0: off)")
      ->capture_default_str();
  app.add_option("--probe-limit", s.probe_limit, "text tasks: examples scored per task at each point of the probe")
      ->capture_default_str();
  app.add_option("--checkpoint", s.checkpoint, "write each method's run checkpoint into DIR/<method> (after every task)");
  app.add_option("--checkpoint-every", s.checkpoint_every, "with --checkpoint: also every N steps within a task")
      ->capture_default_str();
  std::string resume_dir;
  app.add_option("--resume", resume_dir, "continue a killed run from its --checkpoint DIR (same arguments otherwise)");
  app.add_flag("--list", list, "print the method names and exit");
  app.add_flag("--demo", s.demo, "the README's demo budget: a few minutes on 2 cores");
  app.add_flag("--quick", s.quick, "a tiny run in seconds (used by the test suite)");
  CLI11_PARSE(app, argc, argv);
  if (!resume_dir.empty()) {
    if (!s.checkpoint.empty() && s.checkpoint != resume_dir) {
      std::fprintf(stderr, "cl_run: --resume %s and --checkpoint %s name different folders\n", resume_dir.c_str(), s.checkpoint.c_str());
      return 1;
    }
    s.checkpoint = resume_dir, s.resume = true;
  }
  if (s.checkpoint_every > 0 && s.checkpoint.empty()) {
    std::fprintf(stderr, "cl_run: --checkpoint-every needs --checkpoint DIR (or --resume DIR)\n");
    return 1;
  }

  if (list) {
    for (const auto& m : method_catalogue())
      std::printf("%-10s %-13s %s\n", m.name.c_str(), !m.available ? "not yet" : m.by_default ? "available" : "when named", m.summary.c_str());
    return 0;
  }
  if (s.demo && s.tasks == 0) s.tasks = 3;
  // The demo's four: the two bounds, one expert-isolating and one rehearsing method; with a clean
  // build and textcl's first build, under 5 minutes on 2 cores.
  if (s.demo && s.methods.empty()) s.methods = "seq_lora,inc_lora,replay,mtl";
  if (s.quick) {
    if (s.cache == bench::default_cache_dir()) s.cache = "cl_run_quick_cache";
    s.batch = std::min<Index>(s.batch, 4);
    if (s.eval_limit == 0) s.eval_limit = 3;
  }
  if (s.out.empty()) s.out = "cl_results/" + fs::path(s.benchmark).filename().string();
  const std::vector<std::string> methods = s.methods.empty() ? available_methods() : bench::split_list(s.methods);

  try {
    const bench::BaseRecipe recipe = bench::base_recipe(s.quick);
    RunReport report;
    report.benchmark = s.benchmark;
    report.seed = s.seed;
    const bool image = s.benchmark == "rotated-fmnist";
    const Defaults d = defaults_for(image, s);
    for (const auto& method : methods) make_strategy<float>(method, StrategyOptions{});  // fail before any work
    parse_gate_function(s.gate_fn);
    parse_consistency_target(s.consistency_target);
    parse_pseudo_source(s.pseudo);
    parse_sequence_pool(s.sapt_pool);
    if (s.connectivity > 0 && s.resume)
      throw Error(ErrorKind::config, "--connectivity needs an uninterrupted run (checkpoints keep the last state, not one per task)");
    if (s.connectivity == 1 || s.connectivity < 0)
      throw Error(ErrorKind::config, "--connectivity " + std::to_string(s.connectivity) + ": K must be 0 (off) or at least 2");

    // Missing caches (benchmark, base) are built by the chief alone; the others wait, then read them.
    if (s.communicator && !s.chief) s.communicator->barrier();
    std::function<std::unique_ptr<Workload<float>>()> make_workload;
    std::function<std::unique_ptr<Workload<float>>(const Stream&)> make_text_workload;
    Stream text_stream;  // a text benchmark's tasks, as run
    if (image) {
      const std::string backbone = s.cache + (s.quick ? "/fmnist_backbone-quick.safetensors" : "/fmnist_backbone.safetensors");
      bench::image_base(backbone, recipe);
      std::vector<double> angles{30, 60, 90, 120, 150};
      if (s.tasks > 0 && s.tasks < static_cast<Index>(angles.size())) angles.resize(static_cast<std::size_t>(s.tasks));
      auto tasks = std::make_shared<std::vector<ImageTask>>(rotated_fashion_mnist(angles, s.quick ? 64 : 2000, s.quick ? 32 : 500));
      make_workload = [=] { return std::make_unique<ImageWorkload<float>>(bench::image_base(backbone, recipe), *tasks); };
    } else {
      Stream stream = load_stream(text_stream_dir(s));
      if (s.tasks > 0 && s.tasks < static_cast<Index>(stream.tasks.size())) stream.tasks.resize(static_cast<std::size_t>(s.tasks));
      set_metric(stream, s.metric);
      const std::string base = text_base_path(s, recipe);
      TextWorkloadOptions options;
      options.eval_limit = s.eval_limit > 0 ? s.eval_limit : s.demo ? 20 : 0;
      report.bounds = chance_levels(stream, options.eval_limit);
      if (bench::is_model_folder(base)) {
        const TextCodec codec = TextCodec::from_tokenizer(Tokenizer::from_folder(s.tokenizer.empty() ? base : s.tokenizer));
        options.max_len = 512;  // prompts of a few hundred bytes are far fewer tokens
        s.bf16_base = s.base_dtype == "bf16" ||
                      (s.base_dtype == "auto" && load_model_config(base).torch_dtype == "bfloat16" &&
                       std::find(methods.begin(), methods.end(), "seq_ft") == methods.end());
        const HfLoadOptions load{s.bf16_base};
        if (s.bf16_base && s.chief) std::fprintf(stderr, "base held in bf16; its products: %s\n", bf16_products_backend().c_str());
        make_text_workload = [=](const Stream& tasks) {
          return std::make_unique<TextWorkload<float>>(load_hf_model<float>(base, load), tasks, options, codec);
        };
        if (s.chief) {
          TextWorkload<float> probe(load_hf_model<float>(base, load), stream, options, codec);
          LoraConfig lora;
          lora.r = s.rank;
          lora.target_modules = d.targets;
          bench::print_run_estimate(base, probe, lora, s.batch, d.steps, methods.size());
        }
      } else {
        make_text_workload = [=](const Stream& tasks) {
          return std::make_unique<TextWorkload<float>>(std::shared_ptr<GPT<float>>(load_gpt<float>(base)), tasks, options);
        };
      }
      make_workload = [=] { return make_text_workload(stream); };
      text_stream = stream;
    }
    if (s.communicator && s.chief) s.communicator->barrier();
    // After the barrier: with several processes, every one trains the ceilings' experts together.
    if (!image && s.ceiling) report.bounds.ceiling = single_task_ceilings(text_stream, make_text_workload, d, s);
    {
      const auto probe = make_workload();
      for (Index t = 0; t < probe->num_tasks(); ++t) report.tasks.push_back(probe->task_name(t));
    }

    const Index processes = s.communicator ? s.communicator->size() : 1;
    if (s.chief)
      std::fprintf(stderr, "cl_run: %s, %zu tasks, methods %s, %td steps per task, %td process%s of %d threads\n", s.benchmark.c_str(),
                   report.tasks.size(), s.methods.empty() ? "(all available)" : s.methods.c_str(), d.steps, processes,
                   processes > 1 ? "es" : "", num_threads());
    std::vector<std::pair<std::string, MixerRouting>> routings;
    std::vector<std::pair<std::string, JumpMasks>> mask_reports;
    std::vector<std::pair<std::string, RoutingReport>> example_routings;
    std::vector<std::pair<std::string, std::vector<ConnectivityCurve>>> probes;
    if (s.connectivity > static_cast<Index>(report.tasks.size()))
      throw Error(ErrorKind::config, "--connectivity " + std::to_string(s.connectivity) + ": the stream has only " +
                                         std::to_string(report.tasks.size()) + " tasks");
    for (const auto& method : methods) {
      MethodRun run = run_method(method, make_workload, d, s, image);
      if (!s.chief) continue;
      report.methods.push_back(std::move(run.row));
      if (run.routing) routings.emplace_back(method, std::move(*run.routing));
      if (run.masks) mask_reports.emplace_back(method, std::move(*run.masks));
      if (run.example_routing) example_routings.emplace_back(method, std::move(*run.example_routing));
      if (!run.connectivity.empty()) probes.emplace_back(method, std::move(run.connectivity));
      const MethodResult& r = report.methods.back();
      std::fprintf(stderr, "%s\n", r_matrix_table(r, report.tasks, report.bounds).c_str());
      bench::emit({{"bench", "cl_run"}, {"benchmark", s.benchmark}, {"method", method}, {"seed", s.seed},
                   {"AA", r.metrics.aa}, {"BWT", r.metrics.bwt}, {"FWT", r.metrics.fwt}, {"FRa", r.metrics.fra},
                   {"LA", r.metrics.la}, {"train_seconds", r.train_seconds}, {"peak_rss_mb", r.peak_rss_mb},
                   {"threads", num_threads()}, {"processes", processes}, {"steps", run.steps}, {"R", r.r.rows()},
                   {"final_loss", run.final_loss}, {"base_products", s.bf16_base ? bf16_products_backend() : "f32"},
                   {"allreduce_bytes_per_step", run.steps > 0 ? static_cast<double>(run.step_bytes) / static_cast<double>(run.steps) : 0.0}});
    }
    if (!s.chief) return 0;
    write_report(s.out, report);
    for (const auto& [method, routing] : routings) write_routing(s.out, method, report.tasks, routing);
    for (const auto& [method, masks] : mask_reports) write_masks(s.out, method, report.tasks, masks);
    for (const auto& [method, routing] : example_routings) write_example_routing(s.out, method, report.tasks, routing);
    for (const auto& [method, curves] : probes) write_connectivity(s.out, method, report.tasks, s.connectivity, curves);
    std::fprintf(stderr, "%s", metrics_table(report).c_str());
    std::fprintf(stderr, "wrote %s/results.json, one CSV and SVG plots per method\n", s.out.c_str());
  } catch (const Error& e) {
    if (!s.communicator) {
      std::fprintf(stderr, "cl_run: %s\n", e.what());
      return 1;
    }
    std::fprintf(stderr, "cl_run: process %td: %s\n", s.communicator->rank(), e.what());
#ifdef EVERLORA_WITH_MPI
    MpiSession::abort(1);  // the other processes may be waiting in a collective
#endif
    return 1;
  }
  return 0;
}
