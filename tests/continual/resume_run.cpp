// everlora tests — one continual run on the synthetic workload, as a child process of the resume
// tests (run_checkpoint_test.cpp). Every run of a test goes through this one binary, so the
// uninterrupted, the killed and the resumed runs execute the same machine code.
//   resume_run METHOD DIR [--every N] [--resume] [--kill-at TASK STEP]
// DIR/ holds the checkpoint (with --every or --resume); on success the run's R (every view) and
// final losses are written to DIR/result.txt in hex floats. --kill-at raises SIGKILL right after
// step STEP (0-based) of task TASK.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "synthetic_workload.hpp"

namespace {

using namespace everlora;
using everlora_test::SyntheticWorkload;

/// `inner`, except that the process kills itself after one chosen step.
class KilledAt : public Strategy<float> {
 public:
  KilledAt(std::unique_ptr<Strategy<float>> inner, Index task, long step)
      : Strategy<float>(inner->options()), inner_(std::move(inner)), kill_task_(task), kill_step_(step) {}
  std::string name() const override { return inner_->name(); }
  std::vector<Index> training_tasks(Index t) const override { return inner_->training_tasks(t); }
  void before_task(Workload<float>& w, Index t) override {
    task_ = t;
    inner_->before_task(w, t);
  }
  void before_steps(Workload<float>& w, Index t, Index steps) override { inner_->before_steps(w, t, steps); }
  Tensor<float> training_loss(Workload<float>& w, const std::vector<ExampleRef>& batch) override { return inner_->training_loss(w, batch); }
  void after_step(Workload<float>& w, const std::vector<ExampleRef>& batch, long step) override {
    inner_->after_step(w, batch, step);
    if (task_ == kill_task_ && step == kill_step_) std::raise(SIGKILL);
  }
  void after_task(Workload<float>& w, Index t) override { inner_->after_task(w, t); }
  std::vector<std::string> extra_views() const override { return inner_->extra_views(); }
  void begin_scoring(Workload<float>& w, const std::string& view) override { inner_->begin_scoring(w, view); }
  void end_scoring(Workload<float>& w) override { inner_->end_scoring(w); }
  void replay_after_task(Workload<float>& w, Index t) override { inner_->replay_after_task(w, t); }
  void save_state(StrategyState<float>& out) const override { inner_->save_state(out); }
  void load_state(Workload<float>& w, const StrategyState<float>& in) override { inner_->load_state(w, in); }

 private:
  std::unique_ptr<Strategy<float>> inner_;
  Index kill_task_;
  long kill_step_;
  Index task_ = -1;
};

void append_matrix(std::string& out, const std::string& label, const AccuracyMatrix& r) {
  char cell[64];
  for (const auto& row : r.rows()) {
    out += label;
    for (double v : row) std::snprintf(cell, sizeof cell, " %a", v), out += cell;
    out += "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: resume_run METHOD DIR [--every N] [--resume] [--kill-at TASK STEP]\n");
    return 2;
  }
  const std::string method = argv[1], dir = argv[2];
  TrainerOptions trainer;
  trainer.steps_per_task = 10;
  trainer.batch_size = 6;
  trainer.lr = 0.05;
  trainer.seed = 3;
  trainer.progress = ProgressMode::silent;
  Index kill_task = -1;
  long kill_step = -1;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--every" && i + 1 < argc) trainer.checkpoint_dir = dir, trainer.checkpoint_every = std::stol(argv[++i]);
    else if (arg == "--resume") trainer.checkpoint_dir = dir, trainer.resume = true;
    else if (arg == "--kill-at" && i + 2 < argc) kill_task = std::stol(argv[i + 1]), kill_step = std::stol(argv[i + 2]), i += 2;
    else return std::fprintf(stderr, "resume_run: unknown argument '%s'\n", arg.c_str()), 2;
  }
  try {
    SyntheticWorkload<float> workload(3, 40, 4, 3, 11);
    StrategyOptions options;
    options.lora.r = 3;
    options.lora.alpha = 6;
    options.lora.dropout = 0.1;  // the adapters' generators must be restored too
    options.lora.target_modules = {"proj"};
    options.replay_capacity = 16;
    options.sapt.pseudo_fraction = 0.2;
    options.moa.prompt_buffer = 8;
    options.moa.router_steps = 20;
    KilledAt strategy(make_strategy<float>(method, options), kill_task, kill_step);
    const ContinualResult result = train_continual(workload, strategy, trainer);
    std::string out;
    append_matrix(out, "R", result.r);
    for (const auto& [view, r] : result.views) append_matrix(out, view, r);
    char cell[64];
    out += "final_loss";
    for (double v : result.final_loss) std::snprintf(cell, sizeof cell, " %a", v), out += cell;
    out += "\n";
    write_file_atomically(dir + "/result.txt", out);
  } catch (const Error& e) {
    std::fprintf(stderr, "resume_run: %s\n", e.what());
    return 1;
  }
  return 0;
}
