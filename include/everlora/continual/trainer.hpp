// everlora — the continual trainer: runs a stream of tasks through a strategy with a fixed budget
// per task and fills the accuracy matrix R (BENCHMARKS.md, "protocol"):
//   R[0][j]  every task scored before any training (the base model, zero-shot);
//   for task t: before_task → steps of (training_loss, backward, clip, AdamW, after_step)
//               → after_task → every task j scored: R[t+1][j]
// (and the same rows of one more R per extra view of the strategy, e.g. I-LoRA's fast learner).
// Each task gets a fresh AdamW over the parameters trainable at that task, with a warm-up +
// cosine schedule. Batches cycle through the task's examples in a seeded order, reshuffled
// every epoch. Training time excludes the evaluations.
#ifndef EVERLORA_CONTINUAL_TRAINER_HPP
#define EVERLORA_CONTINUAL_TRAINER_HPP

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

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
  Index steps_per_task = 0;  ///< > 0: exactly this many steps per task; 0: `epochs` passes
  Index epochs = 1;          ///< passes over the task's training examples when steps_per_task = 0
  Index batch_size = 8;
  double lr = 1e-3;
  double weight_decay = 0.0;
  double warmup_fraction = 0.05;  ///< of each task's steps
  double clip_norm = 1.0;         ///< global gradient norm cap; 0 turns clipping off
  std::uint64_t seed = 1;         ///< batch order
  Split eval_split = Split::test;
  ProgressMode progress = ProgressMode::automatic;  ///< per-task bars on stderr
};

struct ContinualResult {
  AccuracyMatrix r;  ///< the strategy's main view
  std::vector<std::pair<std::string, AccuracyMatrix>> views;  ///< R of each of its extra_views()
  double train_seconds = 0;  ///< optimisation only, evaluations excluded
  std::vector<double> final_loss;  ///< mean loss of each task's last 10% of steps
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
void score_all(Workload<T>& workload, Strategy<T>& strategy, ContinualResult& result, Index row, Split split) {
  auto score_into = [&](AccuracyMatrix& r, const std::string& view) {
    strategy.begin_scoring(workload, view);
    for (Index j = 0; j < workload.num_tasks(); ++j) r.set(row, j, workload.score(j, split));
  };
  score_into(result.r, "");
  for (auto& [view, r] : result.views) score_into(r, view);
  strategy.end_scoring(workload);
}

}  // namespace detail

/// Runs every task of `workload` through `strategy`; see the file comment. `on_task_end(t)`, if
/// given, runs after task t is scored, with the model in the strategy's main view (to keep a
/// checkpoint of what was scored, e.g. for the connectivity probe).
template <class T>
ContinualResult train_continual(Workload<T>& workload, Strategy<T>& strategy, const TrainerOptions& options,
                                const std::function<void(Index)>& on_task_end = {}) {
  detail::check_trainer_options(options);
  const Index tasks = workload.num_tasks();
  ContinualResult result{AccuracyMatrix(tasks), {}, 0.0, {}};
  for (const std::string& view : strategy.extra_views()) result.views.emplace_back(view, AccuracyMatrix(tasks));
  detail::score_all(workload, strategy, result, 0, options.eval_split);

  for (Index t = 0; t < tasks; ++t) {
    strategy.before_task(workload, t);
    std::vector<ExampleRef> pool;
    for (Index task : strategy.training_tasks(t))
      for (Index i = 0; i < workload.train_size(task); ++i) pool.push_back({task, i});
    const Index steps = options.steps_per_task > 0
                            ? options.steps_per_task
                            : options.epochs * ((static_cast<Index>(pool.size()) + options.batch_size - 1) / options.batch_size);
    detail::BatchCycler batches(std::move(pool), options.batch_size, options.seed + static_cast<std::uint64_t>(t));
    strategy.before_steps(workload, t, steps);

    AdamWOptions adam;
    adam.lr = options.lr;
    adam.weight_decay = options.weight_decay;
    AdamW<T> optimizer(workload.model().trainable_parameters(), adam);
    const WarmupCosine schedule(options.lr, static_cast<long>(options.warmup_fraction * static_cast<double>(steps)), steps);

    ProgressOptions bar;
    bar.mode = options.progress;
    bar.unit = "step";
    Progress progress(steps, strategy.name() + " " + workload.task_name(t), bar);
    double tail_loss = 0;
    Index tail_steps = 0;
    Timer timer;
    workload.model().train(true);
    for (Index step = 0; step < steps; ++step) {
      const std::vector<ExampleRef> batch = batches.next();
      optimizer.set_lr(schedule(static_cast<long>(step)));
      Tensor<T> total = strategy.training_loss(workload, batch);
      total.backward();
      if (options.clip_norm > 0) clip_grad_norm(optimizer.parameters(), options.clip_norm);
      optimizer.step();
      optimizer.zero_grad();
      strategy.after_step(workload, batch, static_cast<long>(step));
      const double value = static_cast<double>(total.item());
      if (step >= steps - std::max<Index>(1, steps / 10)) {
        tail_loss += value;
        ++tail_steps;
      }
      char status[32];
      std::snprintf(status, sizeof status, "loss %.3f", value);
      progress.update(1, status);
    }
    result.train_seconds += timer.seconds();
    progress.finish();
    result.final_loss.push_back(tail_loss / static_cast<double>(std::max<Index>(1, tail_steps)));
    strategy.after_task(workload, t);
    detail::score_all(workload, strategy, result, t + 1, options.eval_split);
    if (on_task_end) {
      strategy.begin_scoring(workload, "");
      on_task_end(t);
      strategy.end_scoring(workload);
    }
  }
  return result;
}

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_TRAINER_HPP
