// everlora — the continual trainer: runs a stream of tasks through a strategy with a fixed budget
// per task and fills the accuracy matrix R (BENCHMARKS.md, "protocol"):
//   R[0][j]  every task scored before any training (the base model, zero-shot);
//   for task t: before_task → steps of (training_loss, backward, clip, AdamW, after_step)
//               → after_task → every task j scored: R[t+1][j]
// (and the same rows of one more R per extra view of the strategy, e.g. I-LoRA's fast learner).
// Each task gets a fresh AdamW over the parameters trainable at that task, with a warm-up +
// cosine schedule. Batches cycle through the task's examples in a seeded order, reshuffled
// every epoch. Training time excludes the evaluations and checkpoint writes.
// With a checkpoint folder the whole run's state is written after R[0], after every task and every
// `checkpoint_every` steps (continual/run_checkpoint.hpp); `resume` continues from it and ends with
// the R an uninterrupted run gives (same seed and thread count). A non-finite loss stops the run
// with Error(value) naming the task and step, before it reaches the parameters.
// With a `communicator` of several processes the run is data-parallel (continual/data_parallel.hpp,
// docs/distributed.md): the same global batches, each process computing its part, gradients
// averaged in one allreduce per step; process 0 alone shows progress and writes checkpoints.
#ifndef EVERLORA_CONTINUAL_TRAINER_HPP
#define EVERLORA_CONTINUAL_TRAINER_HPP

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "everlora/continual/data_parallel.hpp"
#include "everlora/continual/run_checkpoint.hpp"
#include "everlora/continual/strategy.hpp"
#include "everlora/continual/workload.hpp"
#include "everlora/data/prompt.hpp"
#include "everlora/metrics/accuracy_matrix.hpp"
#include "everlora/optim/adamw.hpp"
#include "everlora/optim/clip.hpp"
#include "everlora/optim/schedule.hpp"
#include "everlora/util/progress.hpp"
#include "everlora/util/timer.hpp"

namespace everlora {

struct TrainerOptions {
  Index steps_per_task = 0;  ///< > 0: this many steps per task trained on (MTL's union of t: t times as many); 0: `epochs` passes
  Index epochs = 1;          ///< passes over the task's training examples when steps_per_task = 0
  Index batch_size = 8;
  double lr = 1e-3;
  double weight_decay = 0.0;
  double warmup_fraction = 0.05;  ///< of each task's steps
  double clip_norm = 1.0;         ///< global gradient norm cap; 0 turns clipping off
  std::uint64_t seed = 1;         ///< batch order
  Split eval_split = Split::test;
  ProgressMode progress = ProgressMode::automatic;  ///< per-task bars on stderr
  std::string checkpoint_dir;  ///< "": no checkpoints; else the run's checkpoint folder (see above)
  Index checkpoint_every = 0;  ///< also every this many steps within a task (0: after tasks only)
  bool resume = false;         ///< continue from the checkpoint in checkpoint_dir
  /// What else decides the run's result, as JSON (cl_run: the benchmark and its limits): recorded
  /// in the checkpoint's config, which a resume must match.
  nlohmann::json run_config = nlohmann::json::object();
  /// Data-parallel training over these processes (null, or a group of one: this process alone).
  /// Not owned; every process passes the same options.
  Communicator* communicator = nullptr;
};

/// The options that decide a run's result, as a checkpoint records them (not progress or folders).
inline nlohmann::json trainer_options_json(const TrainerOptions& o) {
  return {{"steps_per_task", o.steps_per_task}, {"epochs", o.epochs}, {"batch_size", o.batch_size}, {"lr", o.lr},
          {"weight_decay", o.weight_decay}, {"warmup_fraction", o.warmup_fraction}, {"clip_norm", o.clip_norm},
          {"seed", o.seed}, {"eval_split", static_cast<int>(o.eval_split)}};
}

struct ContinualResult {
  AccuracyMatrix r;  ///< the strategy's main view
  std::vector<std::pair<std::string, AccuracyMatrix>> views;  ///< R of each of its extra_views()
  double train_seconds = 0;  ///< optimisation only, evaluations excluded
  std::vector<double> final_loss;  ///< mean loss of each task's last 10% of steps
  Index steps = 0;                 ///< optimizer steps this call took (a resumed run: since the resume)
  std::uint64_t step_bytes = 0;    ///< bytes those steps passed to allreduce (data-parallel runs)
};

namespace detail {

inline void check_trainer_options(const TrainerOptions& o) {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw Error(ErrorKind::config, "TrainerOptions: " + what);
  };
  need(o.steps_per_task >= 0, "steps_per_task must be >= 0, got " + std::to_string(o.steps_per_task));
  need(o.steps_per_task > 0 || o.epochs >= 1, "epochs must be >= 1 when steps_per_task is 0, got " + std::to_string(o.epochs));
  need(o.batch_size >= 1, "batch_size must be >= 1, got " + std::to_string(o.batch_size));
  need(o.lr > 0, "lr must be > 0, got " + std::to_string(o.lr));
  need(o.warmup_fraction >= 0 && o.warmup_fraction < 1, "warmup_fraction must be in [0, 1)");
  need(o.clip_norm >= 0, "clip_norm must be >= 0");
  need(o.checkpoint_every >= 0, "checkpoint_every must be >= 0, got " + std::to_string(o.checkpoint_every));
  need(!o.resume || !o.checkpoint_dir.empty(), "resume needs a checkpoint_dir");
  const Index processes = o.communicator ? o.communicator->size() : 1;
  need(o.batch_size >= processes, "batch_size " + std::to_string(o.batch_size) + " is smaller than the " + std::to_string(processes) +
                                      " data-parallel processes (each computes at least one example of every batch)");
}

/// Batches of `batch_size` examples cycling through `pool` in a seeded order, a new order each epoch.
class BatchCycler {
 public:
  BatchCycler(std::vector<ExampleRef> pool, Index batch_size, std::uint64_t seed)
      : pool_(std::move(pool)), batch_size_(batch_size), seed_(seed) {
    if (pool_.empty()) throw Error(ErrorKind::value, "trainer: a task has no training examples");
    reshuffle();
  }
  std::vector<ExampleRef> next() {
    std::vector<ExampleRef> batch;
    while (static_cast<Index>(batch.size()) < batch_size_) {
      if (cursor_ == order_.size()) {
        ++epoch_;
        reshuffle();
      }
      batch.push_back(pool_[static_cast<std::size_t>(order_[cursor_++])]);
    }
    return batch;
  }
  /// Where the cycle stands: the epoch and the next position in its order.
  Index epoch() const { return epoch_; }
  std::size_t cursor() const { return cursor_; }
  /// Puts the cycle where epoch() and cursor() said it was; Error(format) if it cannot be there.
  void seek(Index epoch, std::size_t cursor) {
    if (epoch < 0 || cursor > pool_.size())
      throw Error(ErrorKind::format, "trainer: a saved batch position (epoch " + std::to_string(epoch) + ", cursor " +
                                         std::to_string(cursor) + ") does not fit a pool of " + std::to_string(pool_.size()) + " examples");
    epoch_ = epoch;
    reshuffle();
    cursor_ = cursor;
  }

 private:
  void reshuffle() {
    order_ = shuffled_order(static_cast<Index>(pool_.size()), seed_, epoch_);
    cursor_ = 0;
  }
  std::vector<ExampleRef> pool_;
  Index batch_size_;
  std::uint64_t seed_;
  Index epoch_ = 0;
  std::vector<Index> order_;
  std::size_t cursor_ = 0;
};

/// Row `row` of R (score of every task) for the main view and of each extra view's R.
template <class T>
void score_all(DataParallel<T>& parallel, Strategy<T>& strategy, ContinualResult& result, Index row, Split split) {
  auto score_into = [&](AccuracyMatrix& r, const std::string& view) {
    strategy.begin_scoring(parallel.workload(), view);
    const std::vector<double> scores = parallel.score_tasks(split);
    for (std::size_t j = 0; j < scores.size(); ++j) r.set(row, static_cast<Index>(j), scores[j]);
  };
  score_into(result.r, "");
  for (auto& [view, r] : result.views) score_into(r, view);
  strategy.end_scoring(parallel.workload());
}

/// Where a run stands between two steps: `step` of task `task`'s `steps` steps are done (step 0 of
/// task t: tasks before t are finished), with the task's loss tail and batch cycle so far.
struct RunPosition {
  Index task = 0, step = 0, steps = 0;
  double tail_loss = 0;
  Index tail_steps = 0;
  Index epoch = 0;
  std::size_t cursor = 0;
};

/// R's rows as JSON, null for the entries not scored yet.
inline nlohmann::json matrix_json(const AccuracyMatrix& r) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : r.rows()) {
    nlohmann::json cells = nlohmann::json::array();
    for (double v : row) cells.push_back(std::isnan(v) ? nlohmann::json() : nlohmann::json(v));
    rows.push_back(std::move(cells));
  }
  return rows;
}
inline void restore_matrix(AccuracyMatrix& r, const nlohmann::json& rows) {
  for (Index row = 0; row <= r.tasks(); ++row)
    for (Index j = 0; j < r.tasks(); ++j) {
      const auto& cell = rows.at(static_cast<std::size_t>(row)).at(static_cast<std::size_t>(j));
      if (!cell.is_null()) r.set(row, j, cell.get<double>());
    }
}

/// The R so far (into `result`, whose matrices have the run's shape) and the position a manifest
/// (parse_run_manifest's output) records; Error(format) naming `source` when a field is missing, of
/// the wrong type, or out of the run's range (a non-finite score is AccuracyMatrix's Error(value)).
inline RunPosition read_run_progress(const nlohmann::json& manifest, ContinualResult& result, const std::string& source) {
  const Index tasks = result.r.tasks();
  try {
    const auto& saved = manifest.at("result");
    restore_matrix(result.r, saved.at("r"));
    for (auto& [view, r] : result.views) restore_matrix(r, saved.at("views").at(view));
    result.train_seconds = saved.at("train_seconds").get<double>();
    result.final_loss = saved.at("final_loss").get<std::vector<double>>();
    const auto& p = manifest.at("task_progress");
    const auto count = [&](const nlohmann::json& v) { return checked_json_value<Index>(v, "run checkpoint '" + source + "': a count"); };
    const auto& at = manifest.at("position");
    const RunPosition position{count(at.at("task")), count(at.at("step")), count(at.at("steps")), p.at("tail_loss").get<double>(),
                               count(p.at("tail_steps")), count(p.at("epoch")), static_cast<std::size_t>(count(p.at("cursor")))};
    const bool fits = position.task <= tasks && (position.step == 0 || (position.task < tasks && position.step < position.steps)) &&
                      position.tail_steps <= position.step && static_cast<Index>(result.final_loss.size()) == position.task;
    if (!fits)
      throw Error(ErrorKind::format, "run checkpoint '" + source + "': position " + at.dump() + " does not fit a run of " +
                                         std::to_string(tasks) + " tasks (or its progress fields disagree)");
    return position;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::format, "run checkpoint '" + source + "': " + e.what());
  }
}

/// Writes and reads one run's checkpoints (a no-op without a checkpoint folder).
template <class T>
class RunCheckpointer {
 public:
  /// Only the data-parallel group's writer writes; every process reads on resume.
  RunCheckpointer(const TrainerOptions& options, Workload<T>& workload, Strategy<T>& strategy, const DataParallel<T>& parallel)
      : dir_(options.checkpoint_dir), every_(options.checkpoint_every), writer_(parallel.writer()), workload_(workload), strategy_(strategy) {
    if (dir_.empty()) return;
    if (!options.resume && has_run_checkpoint(dir_))
      throw Error(ErrorKind::config, "'" + dir_ + "' already holds a run checkpoint: resume it or choose another folder");
    fingerprint_ = model_fingerprint(workload.model());  // the base, before any task adapts it
    std::vector<std::string> tasks;
    std::vector<Index> train_sizes;
    for (Index t = 0; t < workload.num_tasks(); ++t) tasks.push_back(workload.task_name(t)), train_sizes.push_back(workload.train_size(t));
    // The thread and process counts too: float sums split over threads or processes differ in
    // their last bits.
    config_ = {{"method", strategy.name()}, {"tasks", tasks}, {"train_sizes", train_sizes},
               {"value_type", sizeof(T) == 4 ? "f32" : "f64"}, {"threads", num_threads()}, {"processes", parallel.processes()},
               {"trainer", trainer_options_json(options)}, {"strategy", strategy_options_json(strategy.options())},
               {"run", options.run_config}};
  }
  const std::string& dir() const { return dir_; }
  /// Whether a checkpoint is due after `done` of `steps` steps (the task's end has its own).
  bool due(Index done, Index steps) const { return !dir_.empty() && every_ > 0 && done % every_ == 0 && done < steps; }

  void save(const RunPosition& at, const ContinualResult& result, const Optimizer<T>* optimizer) {
    if (dir_.empty() || !writer_) return;
    nlohmann::json views = nlohmann::json::object();
    for (const auto& [view, r] : result.views) views[view] = matrix_json(r);
    StrategyState<T> state;
    strategy_.save_state(state);
    nlohmann::json manifest = {
        {"base_fingerprint", fingerprint_}, {"config", config_},
        {"position", {{"task", at.task}, {"step", at.step}, {"steps", at.steps}}},
        {"task_progress", {{"tail_loss", at.tail_loss}, {"tail_steps", at.tail_steps}, {"epoch", at.epoch}, {"cursor", at.cursor}}},
        {"result", {{"r", matrix_json(result.r)}, {"views", views}, {"train_seconds", result.train_seconds}, {"final_loss", result.final_loss}}},
        {"generators", module_generators(workload_.model())}, {"strategy", state.fields}};
    StateDict<T> tensors;
    for (const auto& [name, p] : workload_.model().named_parameters()) tensors.emplace("model/" + name, p);
    if (optimizer)
      for (auto& [key, t] : optimizer->state_dict()) tensors.emplace("optimizer/" + key, t);
    for (auto& [key, t] : state.tensors) tensors.emplace("strategy/" + key, t);
    write_run_checkpoint(dir_, std::move(manifest), tensors);
  }

  /// Reads the checkpoint, checks that it belongs to this run (base fingerprint and config), puts
  /// its R so far into `result` and returns its position.
  RunPosition open(ContinualResult& result) {
    loaded_ = read_run_checkpoint<T>(dir_);
    const nlohmann::json& m = loaded_.manifest;
    if (m["base_fingerprint"] != fingerprint_)
      throw Error(ErrorKind::config, "the checkpoint in '" + dir_ + "' was written for another base model (fingerprint " +
                                         m["base_fingerprint"].get<std::string>() + ", this model's is " + fingerprint_ + ")");
    check_same_run(m["config"], config_, dir_);
    return read_run_progress(m, result, dir_ + "/" + kRunManifestFile);
  }

  /// Loads the opened checkpoint's parameters, generators and strategy state into a model whose
  /// structure the trainer has rebuilt, and mid-task the optimizer's state and the batch cycle's
  /// position. Errors name the checkpoint.
  void restore(Optimizer<T>* optimizer = nullptr, BatchCycler* batches = nullptr, const RunPosition* at = nullptr) {
    const nlohmann::json& m = loaded_.manifest;
    try {
      workload_.model().load_state_dict(tensors_under(loaded_.tensors, "model/"));
      restore_module_generators(workload_.model(), m["generators"]);
      StrategyState<T> state;
      state.tensors = tensors_under(loaded_.tensors, "strategy/");
      state.fields = m["strategy"];
      strategy_.load_state(workload_, state);
      if (optimizer) optimizer->load_state_dict(tensors_under(loaded_.tensors, "optimizer/"));
      if (batches && at) batches->seek(at->epoch, at->cursor);
    } catch (const Error& e) {
      throw Error(e.kind(), "run checkpoint '" + dir_ + "/" + m["state_file"].get<std::string>() + "': " + e.message());
    }
    loaded_ = {};
  }

 private:
  std::string dir_;
  Index every_;
  bool writer_;
  Workload<T>& workload_;
  Strategy<T>& strategy_;
  std::string fingerprint_;
  nlohmann::json config_;
  RunCheckpoint<T> loaded_;
};

/// The error a non-finite loss stops the run with.
template <class T>
Error non_finite_loss(double value, const Workload<T>& workload, Index task, Index step, Index steps, const std::string& dir) {
  return Error(ErrorKind::value, "task " + std::to_string(task + 1) + " ('" + workload.task_name(task) + "'), step " +
                                     std::to_string(step + 1) + " of " + std::to_string(steps) + ": the loss is " +
                                     detail::format_number(value) + "; stopped before the update" +
                                     (dir.empty() ? std::string() : "; the last checkpoint in '" + dir + "' is intact"));
}

}  // namespace detail

/// Runs every task of `workload` through `strategy`; see the file comment. `on_task_end(t)`, if
/// given, runs after task t is scored, with the model in the strategy's main view (to keep a
/// checkpoint of what was scored, e.g. for the connectivity probe); a resumed run calls it only for
/// the tasks it trains itself.
template <class T>
ContinualResult train_continual(Workload<T>& workload, Strategy<T>& strategy, const TrainerOptions& options,
                                const std::function<void(Index)>& on_task_end = {}) {
  detail::check_trainer_options(options);
  const Index tasks = workload.num_tasks();
  ContinualResult result{AccuracyMatrix(tasks), {}, 0.0, {}, 0, 0};
  for (const std::string& view : strategy.extra_views()) result.views.emplace_back(view, AccuracyMatrix(tasks));
  detail::DataParallel<T> parallel(options.communicator, workload);
  detail::RunCheckpointer<T> checkpoints(options, workload, strategy, parallel);
  detail::RunPosition resume_at;
  if (options.resume) {
    resume_at = checkpoints.open(result);
    for (Index t = 0; t < resume_at.task; ++t) {  // the structure of the finished tasks, then their values
      strategy.before_task(workload, t);
      strategy.replay_after_task(workload, t);
    }
    if (resume_at.step == 0) checkpoints.restore();
  } else {
    detail::score_all(parallel, strategy, result, 0, options.eval_split);
    checkpoints.save({}, result, nullptr);
  }

  for (Index t = resume_at.task; t < tasks; ++t) {
    strategy.before_task(workload, t);
    std::vector<ExampleRef> pool;
    const std::vector<Index> training_tasks = strategy.training_tasks(t);
    for (Index task : training_tasks)
      for (Index i = 0; i < workload.train_size(task); ++i) pool.push_back({task, i});
    // The budget is per task trained on, in steps as in epochs: a union of t tasks gets t budgets.
    const Index steps = options.steps_per_task > 0
                            ? options.steps_per_task * static_cast<Index>(training_tasks.size())
                            : options.epochs * ((static_cast<Index>(pool.size()) + options.batch_size - 1) / options.batch_size);
    detail::BatchCycler batches(std::move(pool), options.batch_size, options.seed + static_cast<std::uint64_t>(t));
    strategy.before_steps(workload, t, steps);

    AdamWOptions adam;
    adam.lr = options.lr;
    adam.weight_decay = options.weight_decay;
    AdamW<T> optimizer(workload.model().trainable_parameters(), adam);
    const WarmupCosine schedule(options.lr, static_cast<long>(options.warmup_fraction * static_cast<double>(steps)), steps);
    detail::RunPosition at{t, 0, steps};
    if (options.resume && t == resume_at.task && resume_at.step > 0) {
      if (resume_at.steps != steps)
        throw Error(ErrorKind::format, "the checkpoint in '" + checkpoints.dir() + "' is at step " + std::to_string(resume_at.step) + " of " +
                                           std::to_string(resume_at.steps) + " of task " + std::to_string(t + 1) + ", which has " +
                                           std::to_string(steps) + " steps here");
      at = resume_at;
      checkpoints.restore(&optimizer, &batches, &at);
    }
    if (options.resume && t == resume_at.task) parallel.check_replicas_agree(strategy, "on resuming");

    ProgressOptions bar;
    bar.mode = parallel.writer() ? options.progress : ProgressMode::silent;
    bar.unit = "step";
    Progress progress(steps - at.step, strategy.name() + " " + workload.task_name(t) + (at.step > 0 ? " from step " + std::to_string(at.step) : ""), bar);
    Timer timer;
    workload.model().train(true);
    for (Index step = at.step; step < steps; ++step) {
      const std::vector<ExampleRef> batch = batches.next();
      optimizer.set_lr(schedule(static_cast<long>(step)));
      Tensor<T> total = strategy.training_loss(workload, batch);
      total.backward();
      // The whole batch's loss and gradients (this process's own without a communicator).
      const double value = parallel.average_gradients(optimizer.parameters(), static_cast<double>(total.item()), result.step_bytes);
      if (!std::isfinite(value)) throw detail::non_finite_loss(value, workload, t, step, steps, checkpoints.dir());
      if (options.clip_norm > 0) clip_grad_norm(optimizer.parameters(), options.clip_norm);
      optimizer.step();
      optimizer.zero_grad();
      strategy.after_step(workload, batch, static_cast<long>(step));
      if (step >= steps - std::max<Index>(1, steps / 10)) {
        at.tail_loss += value;
        ++at.tail_steps;
      }
      char status[32];
      std::snprintf(status, sizeof status, "loss %.3f", value);
      progress.update(1, status);
      at.step = step + 1;
      ++result.steps;
      if (checkpoints.due(at.step, steps)) {
        result.train_seconds += timer.seconds();
        at.epoch = batches.epoch();
        at.cursor = batches.cursor();
        checkpoints.save(at, result, &optimizer);
        timer.reset();
      }
    }
    result.train_seconds += timer.seconds();
    progress.finish();
    result.final_loss.push_back(at.tail_loss / static_cast<double>(std::max<Index>(1, at.tail_steps)));
    strategy.after_task(workload, t);
    parallel.check_replicas_agree(strategy, "after task " + std::to_string(t + 1));
    detail::score_all(parallel, strategy, result, t + 1, options.eval_split);
    if (on_task_end) {
      strategy.begin_scoring(workload, "");
      on_task_end(t);
      strategy.end_scoring(workload);
    }
    checkpoints.save({t + 1, 0, 0}, result, nullptr);
  }
  return result;
}

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_TRAINER_HPP
