// Run checkpoints: a run killed with SIGKILL (mid-task, at a task's end, during a checkpoint write)
// resumes to exactly the R of an uninterrupted run, for every method; and every refusal (another
// base, another config, a truncated, corrupt or non-finite checkpoint, a non-finite loss).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "synthetic_workload.hpp"

extern char** environ;

namespace {

using namespace everlora;
using everlora_test::SyntheticWorkload;
namespace fs = std::filesystem;

/// A fresh, empty folder for one test.
std::string fresh_checkpoint_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("everlora_ckpt_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

/// Starts resume_run with `args`; returns its pid.
pid_t spawn_run(const std::vector<std::string>& args) {
  std::vector<std::string> all{EVERLORA_RESUME_RUN};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
  return pid;
}

/// waitpid's status of the child.
int wait_run(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return status;
}

int run(const std::vector<std::string>& args) { return wait_run(spawn_run(args)); }
bool exited_ok(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
bool killed(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; }

std::string result_of(const std::string& dir) { return read_file(dir + "/result.txt"); }

/// R (every view) and final losses of an uninterrupted run without checkpoints.
std::string reference_result(const std::string& method) {
  const std::string dir = fresh_checkpoint_dir("reference");
  REQUIRE(exited_ok(run({method, dir})));
  return result_of(dir);
}

std::pair<long, long> checkpoint_position(const std::string& dir) {
  const auto checkpoint = read_run_checkpoint<float>(dir);
  return {checkpoint.manifest["position"]["task"].get<long>(), checkpoint.manifest["position"]["step"].get<long>()};
}

TrainerOptions small_trainer(const std::string& dir) {
  TrainerOptions o;
  o.steps_per_task = 6;
  o.batch_size = 6;
  o.lr = 0.05;
  o.progress = ProgressMode::silent;
  o.checkpoint_dir = dir;
  o.checkpoint_every = 2;
  return o;
}

StrategyOptions small_strategy() {
  StrategyOptions o;
  o.lora.r = 2;
  o.lora.target_modules = {"proj"};
  return o;
}

/// Trains seq_lora on the synthetic workload of `seed` into `dir`'s checkpoint.
void checkpointed_run(const std::string& dir, std::uint64_t seed = 4) {
  SyntheticWorkload<float> w(2, 24, 3, 3, seed);
  SeqLora<float> strategy(small_strategy());
  train_continual(w, strategy, small_trainer(dir));
}

/// The Error a resume of `dir` with these changes throws (kind and message), or fails.
Error resume_error(const std::string& dir, std::uint64_t seed, TrainerOptions trainer, const std::string& method = "seq_lora") {
  SyntheticWorkload<float> w(2, 24, 3, 3, seed);
  auto strategy = make_strategy<float>(method, small_strategy());
  trainer.checkpoint_dir = dir;
  trainer.resume = true;
  try {
    train_continual(w, *strategy, trainer);
  } catch (const Error& e) {
    return e;
  }
  FAIL("the resume was not refused");
  return Error(ErrorKind::value, "unreachable");
}

}  // namespace

TEST_CASE("A run killed mid-task or between tasks resumes to the uninterrupted R, bit for bit", "[continual][checkpoint]") {
  const std::string method = GENERATE(from_range(everlora_test::every_method_name()));
  INFO(method);
  const std::string reference = reference_result(method);

  // Mid-task: checkpoints every 4 steps, killed after step 6 of task 2 → resumes at its step 4.
  const std::string mid = fresh_checkpoint_dir("mid");
  REQUIRE(killed(run({method, mid, "--every", "4", "--kill-at", "1", "6"})));
  CHECK(checkpoint_position(mid) == std::make_pair(1L, 4L));
  REQUIRE(exited_ok(run({method, mid, "--resume"})));
  CHECK(result_of(mid) == reference);

  // Task ends only: killed in task 3 → resumes after task 2.
  const std::string boundary = fresh_checkpoint_dir("boundary");
  REQUIRE(killed(run({method, boundary, "--every", "0", "--kill-at", "2", "3"})));
  CHECK(checkpoint_position(boundary) == std::make_pair(2L, 0L));
  REQUIRE(exited_ok(run({method, boundary, "--resume"})));
  CHECK(result_of(boundary) == reference);

  // A finished run's checkpoint resumes to its result without training again.
  REQUIRE(exited_ok(run({method, boundary, "--resume"})));
  CHECK(result_of(boundary) == reference);
  fs::remove_all(mid), fs::remove_all(boundary);
}

TEST_CASE("A kill during a checkpoint write leaves the previous checkpoint whole", "[continual][checkpoint]") {
  const std::string method = "i_lora+am_lora";  // the largest state: experts, mixers, slow copies, buffer
  const std::string reference = reference_result(method);
  bool hit_a_write = false;
  for (int attempt = 0; attempt < 40 && !hit_a_write; ++attempt) {
    const std::string dir = fresh_checkpoint_dir("write");
    const pid_t pid = spawn_run({method, dir, "--every", "1"});  // most of the run is spent writing
    std::this_thread::sleep_for(std::chrono::milliseconds(40 + 7 * attempt));
    ::kill(pid, SIGKILL);
    const int status = wait_run(pid);
    if (!killed(status) || !has_run_checkpoint(dir)) continue;  // finished first, or killed before any checkpoint
    const std::string state = read_run_checkpoint<float>(dir).manifest["state_file"];
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string file = entry.path().filename().string();
      hit_a_write = hit_a_write || file.front() == '.' || (file.rfind("state-", 0) == 0 && file != state);
    }
    REQUIRE(exited_ok(run({method, dir, "--resume"})));
    CHECK(result_of(dir) == reference);
    fs::remove_all(dir);
  }
  CHECK(hit_a_write);  // some kill landed between a temporary's creation and the manifest's rename
}

TEST_CASE("Resuming refuses another base model, another config, or no checkpoint", "[continual][checkpoint][errors]") {
  const std::string dir = fresh_checkpoint_dir("refusals");
  checkpointed_run(dir);

  const Error base = resume_error(dir, 5, small_trainer(dir));
  CHECK(base.kind() == ErrorKind::config);
  CHECK_THAT(base.what(), Catch::Contains("another base model"));

  TrainerOptions other_lr = small_trainer(dir);
  other_lr.lr = 0.01;
  const Error config = resume_error(dir, 4, other_lr);
  CHECK(config.kind() == ErrorKind::config);
  CHECK_THAT(config.what(), Catch::Contains("/trainer/lr is 0.05 there and 0.01 here"));

  const Error method = resume_error(dir, 4, small_trainer(dir), "inc_lora");
  CHECK(method.kind() == ErrorKind::config);
  CHECK_THAT(method.what(), Catch::Contains("/method is \"seq_lora\" there and \"inc_lora\" here"));

  TrainerOptions other_run = small_trainer(dir);
  other_run.run_config = {{"benchmark", "other"}};
  const Error run = resume_error(dir, 4, other_run);
  CHECK(run.kind() == ErrorKind::config);
  CHECK_THAT(run.what(), Catch::Contains("/run/benchmark is (absent) there and \"other\" here"));

  const int threads = num_threads();
  set_num_threads(threads == 1 ? 2 : 1);
  const Error other_threads = resume_error(dir, 4, small_trainer(dir));
  set_num_threads(threads);
  CHECK(other_threads.kind() == ErrorKind::config);
  CHECK_THAT(other_threads.what(), Catch::Contains("/threads is " + std::to_string(threads) + " there"));

  const Error none = resume_error(fresh_checkpoint_dir("empty"), 4, small_trainer(""));
  CHECK(none.kind() == ErrorKind::io);

  // A new run never overwrites a checkpoint.
  SyntheticWorkload<float> w(2, 24, 3, 3, 4);
  SeqLora<float> strategy(small_strategy());
  CHECK_THROWS_WITH(train_continual(w, strategy, small_trainer(dir)), Catch::Contains("already holds a run checkpoint"));
  fs::remove_all(dir);
}

TEST_CASE("A truncated, corrupt or non-finite checkpoint is refused, naming the file", "[continual][checkpoint][errors]") {
  const std::string dir = fresh_checkpoint_dir("damaged");
  checkpointed_run(dir);
  const RunCheckpoint<float> good = read_run_checkpoint<float>(dir);
  const std::string state = dir + "/" + good.manifest["state_file"].get<std::string>();
  const std::string bytes = read_file(state);
  auto expect = [&](ErrorKind kind, const std::string& words) {
    try {
      read_run_checkpoint<float>(dir);
      FAIL("the damaged checkpoint was read");
    } catch (const Error& e) {
      CHECK(e.kind() == kind);
      CHECK_THAT(e.what(), Catch::Contains(words));
    }
  };

  write_file_atomically(state, bytes.substr(0, bytes.size() / 2));
  expect(ErrorKind::format, "truncated");
  std::string flipped = bytes;
  flipped[flipped.size() - 3] ^= 0x20;
  write_file_atomically(state, flipped);
  expect(ErrorKind::format, "corrupt");
  write_file_atomically(state, bytes);

  const std::string manifest = read_file(dir + "/manifest.json");
  write_file_atomically(dir + "/manifest.json", manifest.substr(0, manifest.size() / 3));
  expect(ErrorKind::format, "manifest.json");
  nlohmann::json other_version = good.manifest;
  other_version["version"] = 99;
  write_file_atomically(dir + "/manifest.json", other_version.dump());
  expect(ErrorKind::format, "version 99");

  // Files of the folder that are not the checkpoint's are left alone by a new write.
  write_file_atomically(dir + "/state-of-the-art.txt", "notes");
  write_run_checkpoint(dir, good.manifest, good.tensors);
  CHECK(fs::exists(dir + "/state-of-the-art.txt"));

  // A position the run cannot have.
  ContinualResult two_tasks{AccuracyMatrix(2), {}, 0.0, {}};
  CHECK(detail::read_run_progress(good.manifest, two_tasks, "m").task == 2);
  nlohmann::json past_the_end = good.manifest;
  past_the_end["position"]["task"] = 7u;
  CHECK_THROWS_WITH(detail::read_run_progress(past_the_end, two_tasks, "m"), Catch::Contains("does not fit a run of 2 tasks"));

  // A NaN written by a buggy writer, with a matching size and hash: refused by value.
  StateDict<float> tensors = good.tensors;
  Tensor<float> poisoned = tensors.at("model/proj.weight").clone();
  poisoned[1] = std::numeric_limits<float>::quiet_NaN();
  tensors["model/proj.weight"] = poisoned;
  write_run_checkpoint(dir, good.manifest, tensors);
  expect(ErrorKind::value, "'model/proj.weight' holds nan at flat index 1");
  fs::remove_all(dir);
}

TEST_CASE("A non-finite loss stops the run, naming task and step, and the last checkpoint stays", "[continual][checkpoint][errors]") {
  // SeqLoRA whose loss turns into NaN at step 4 of task 2.
  class PoisonedAt : public SeqLora<float> {
   public:
    using SeqLora<float>::SeqLora;
    void before_task(Workload<float>& w, Index t) override {
      SeqLora<float>::before_task(w, t);
      task_ = t, step_ = 0;
    }
    Tensor<float> extra_loss(Workload<float>&, const std::vector<ExampleRef>&) override {
      if (task_ == 1 && step_++ == 3) return Tensor<float>::full(Shape{}, std::numeric_limits<float>::quiet_NaN());
      return {};
    }

   private:
    Index task_ = 0, step_ = 0;
  };
  const std::string dir = fresh_checkpoint_dir("nan");
  SyntheticWorkload<float> w(2, 24, 3, 3, 4);
  PoisonedAt strategy(small_strategy());
  try {
    train_continual(w, strategy, small_trainer(dir));
    FAIL("the NaN loss went unnoticed");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::value);
    CHECK_THAT(e.what(), Catch::Contains("task 2 ('t2'), step 4 of 6: the loss is nan") && Catch::Contains("is intact"));
  }
  CHECK(checkpoint_position(dir) == std::make_pair(1L, 2L));
  fs::remove_all(dir);
}

TEST_CASE("A strategy state with counts that are not counts or examples the workload lacks is refused", "[continual][checkpoint][errors]") {
  StrategyState<float> state;
  state.fields = {{"huge", 1e300}, {"negative", -1}, {"fine", 3}};
  CHECK(state.get<Index>("fine") == 3);
  CHECK_THROWS_WITH(state.get<Index>("huge"), Catch::Contains("'huge' is 1e+300, not a count"));
  CHECK_THROWS_WITH(state.get<std::size_t>("negative"), Catch::Contains("'negative' is -1, not a count"));
  CHECK_THROWS_WITH(state.get<Index>("absent"), Catch::Contains("no field 'absent'"));
  state.tensors.emplace("mask", Tensor<float>::zeros({4}));
  const Shape six{6};
  CHECK_THROWS_WITH(state.tensor("mask", &six), Catch::Contains("'mask' is [4], not [6]"));
  CHECK_THROWS_WITH(state.nested("fine"), Catch::Contains("'fine' is not an object"));

  SyntheticWorkload<float> w(2, 24, 3, 3, 4);
  ReplayBuffer buffer(8, 1);
  const auto restore = [&](const nlohmann::json& saved) { restore_replay_buffer(buffer, saved, w); };
  restore({{"items", {{1, 23}}}, {"seen", 5}, {"rng", 7}});
  CHECK(buffer.items() == std::vector<ExampleRef>{{1, 23}});
  CHECK_THROWS_WITH(restore({{"items", {{1, 24}}}, {"seen", 5}, {"rng", 7}}), Catch::Contains("[1,24], which the workload does not have"));
  CHECK_THROWS_WITH(restore({{"items", {{2, 0}}}, {"seen", 5}, {"rng", 7}}), Catch::Contains("which the workload does not have"));
  CHECK_THROWS_WITH(restore({{"items", {{0, 0}}}, {"seen", 1e30}, {"rng", 7}}), Catch::Contains("not a count"));
  CHECK_THROWS_WITH(restore({{"items", {{0, 0}, {0, 1}}}, {"seen", 1}, {"rng", 7}}), Catch::Contains("does not fit"));
  CHECK_THROWS_WITH(restore({{"items", 3}}), Catch::Contains("not {items, seen, rng}"));
}
