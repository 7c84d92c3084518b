// Data-parallel training (continual/data_parallel.hpp) over an in-process group of threads
// (thread_group.hpp): for every method, two processes sharing each batch give one process's R,
// losses and parameters to rounding, on the synthetic stream (unequal parts) and on text (parts
// padded to the whole batch, per-token means of AM-LoRA and I-LoRA weighted by their share);
// the parts' weighted losses and gradients average to the whole batch's; only process 0 writes
// checkpoints, which resume with the same number of processes only; diverged processes are caught.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "continual/synthetic_workload.hpp"
#include "continual/thread_group.hpp"
#include "continual/tiny_fixtures.hpp"
#include "everlora/continual.hpp"

using namespace everlora;
using everlora_test::run_group;
using everlora_test::SyntheticWorkload;

namespace {

struct ParallelRun {
  ContinualResult result;
  std::vector<std::pair<std::string, std::vector<double>>> parameters;
};

std::vector<std::pair<std::string, std::vector<double>>> parameter_values(Module<double>& model) {
  std::vector<std::pair<std::string, std::vector<double>>> out;
  for (const auto& [name, p] : model.named_parameters()) out.emplace_back(name, p.to_vector());
  return out;
}

/// The largest |a − b| over two runs' parameters (which must have the same names and shapes).
double max_parameter_gap(const ParallelRun& a, const ParallelRun& b) {
  REQUIRE(a.parameters.size() == b.parameters.size());
  double gap = 0;
  for (std::size_t i = 0; i < a.parameters.size(); ++i) {
    REQUIRE(a.parameters[i].first == b.parameters[i].first);
    REQUIRE(a.parameters[i].second.size() == b.parameters[i].second.size());
    for (std::size_t k = 0; k < a.parameters[i].second.size(); ++k)
      gap = std::max(gap, std::abs(a.parameters[i].second[k] - b.parameters[i].second[k]));
  }
  return gap;
}

void require_same_run(const ParallelRun& one, const ParallelRun& parallel, double tolerance) {
  const auto& r1 = one.result.r.rows();
  const auto& r2 = parallel.result.r.rows();
  for (std::size_t i = 0; i < r1.size(); ++i)
    for (std::size_t j = 0; j < r1[i].size(); ++j) CHECK(r2[i][j] == Approx(r1[i][j]).margin(1e-9));
  REQUIRE(one.result.final_loss.size() == parallel.result.final_loss.size());
  for (std::size_t t = 0; t < one.result.final_loss.size(); ++t)
    CHECK(parallel.result.final_loss[t] == Approx(one.result.final_loss[t]).epsilon(tolerance));
  CHECK(max_parameter_gap(one, parallel) < tolerance);
}

using WorkloadFactory = std::function<std::unique_ptr<Workload<double>>()>;

/// `method` trained on a fresh workload by `processes` members of a thread group; every member's
/// result, in rank order.
std::vector<ParallelRun> train_in_group(Index processes, const WorkloadFactory& make_workload, const std::string& method,
                                        const StrategyOptions& options, TrainerOptions trainer) {
  std::vector<std::optional<ParallelRun>> slots(static_cast<std::size_t>(processes));
  run_group(processes, [&](Communicator& comm) {
    auto workload = make_workload();
    auto strategy = make_strategy<double>(method, options);
    TrainerOptions mine = trainer;
    mine.communicator = &comm;
    ParallelRun run{train_continual(*workload, *strategy, mine), {}};
    run.parameters = parameter_values(workload->model());
    slots[static_cast<std::size_t>(comm.rank())] = std::move(run);
  });
  std::vector<ParallelRun> runs;
  for (auto& slot : slots) runs.push_back(std::move(*slot));
  return runs;
}

ParallelRun train_alone(const WorkloadFactory& make_workload, const std::string& method, const StrategyOptions& options,
                        const TrainerOptions& trainer) {
  auto workload = make_workload();
  auto strategy = make_strategy<double>(method, options);
  ParallelRun run{train_continual(*workload, *strategy, trainer), {}};
  run.parameters = parameter_values(workload->model());
  return run;
}

WorkloadFactory synthetic_stream() {
  return [] { return std::make_unique<SyntheticWorkload<double>>(3, 45, 4, 4, 9); };
}

/// Two tasks whose inputs differ in length, so that a batch's parts pad differently.
WorkloadFactory text_stream() {
  return [] {
    auto task = [](const std::string& name, const std::string& instruction, const std::string& a, const std::string& b) {
      Task t{{name, {a, b}, TaskMetric::exact_match}, {}, {}, {}};
      for (int i = 0; i < 7; ++i) t.train.push_back({instruction, std::string(static_cast<std::size_t>(1 + 3 * i), 'x'), i % 2 ? a : b});
      t.dev = t.test = {t.train[0], t.train[3], t.train[6]};
      return t;
    };
    Stream stream{"lengths", {task("colour", "Name the colour.", "red", "blue"), task("size", "Name the size.", "big", "small")}};
    return std::make_unique<TextWorkload<double>>(everlora_test::tiny_gpt(64, 5), stream);
  };
}

/// Three tasks of 20 random 3×3 images each (labels 0–2), on an MLP 9 → 6 → 5 → 3.
WorkloadFactory image_stream() {
  return [] {
    Rng data(4);
    std::vector<ImageTask> tasks;
    for (int t = 0; t < 3; ++t) {
      ImageSet set;
      set.count = 20, set.rows = 3, set.cols = 3;
      for (Index i = 0; i < set.count * 9; ++i) set.pixels.push_back(static_cast<std::uint8_t>(data.below(256)));
      for (Index i = 0; i < set.count; ++i) set.labels.push_back(static_cast<std::int32_t>(data.below(3)));
      tasks.push_back({"t" + std::to_string(t + 1), set, set, set});
    }
    Rng init(5);
    return std::make_unique<ImageWorkload<double>>(std::make_shared<MLPClassifier<double>>(std::vector<Index>{9, 6, 5, 3}, init), tasks);
  };
}

TrainerOptions short_trainer(Index steps, Index batch) {
  TrainerOptions t = everlora_test::quiet_trainer(steps);
  t.batch_size = batch;
  return t;
}

}  // namespace

TEST_CASE("Two data-parallel processes give one process's R, losses and parameters, for every method", "[continual][parallel]") {
  const std::string method = GENERATE(from_range(everlora_test::every_method_name()));
  INFO(method);
  const StrategyOptions options = everlora_test::small_lora_options();
  const TrainerOptions trainer = short_trainer(12, 15);  // parts of 8 and 7 examples
  const ParallelRun one = train_alone(synthetic_stream(), method, options, trainer);
  const std::vector<ParallelRun> two = train_in_group(2, synthetic_stream(), method, options, trainer);
  require_same_run(one, two[0], 1e-9);
  // Every process ends with the same bits.
  CHECK(max_parameter_gap(two[0], two[1]) == 0.0);
  CHECK(two[0].result.r.rows() == two[1].result.r.rows());
}

TEST_CASE("On text, parts padded to the whole batch and per-token means weighted by their share match one process", "[continual][parallel]") {
  const std::string method = GENERATE(as<std::string>{}, "am_lora", "i_lora+am_lora", "replay", "sapt", "moa");
  INFO(method);
  const TrainerOptions trainer = short_trainer(4, 3);  // parts of 2 and 1 examples, of different lengths
  const ParallelRun one = train_alone(text_stream(), method, everlora_test::tiny_text_options(), trainer);
  const std::vector<ParallelRun> two = train_in_group(2, text_stream(), method, everlora_test::tiny_text_options(), trainer);
  require_same_run(one, two[0], 1e-9);
  CHECK(max_parameter_gap(two[0], two[1]) == 0.0);
}

TEST_CASE("On images, two processes match one process", "[continual][parallel]") {
  const std::string method = GENERATE(as<std::string>{}, "am_lora", "i_lora+am_lora", "jump_lora+ella", "moa");
  INFO(method);
  StrategyOptions options = everlora_test::small_lora_options();
  options.lora.target_modules = {"fc1", "fc2", "fc3"};
  const TrainerOptions trainer = short_trainer(10, 7);  // parts of 4 and 3 images
  const ParallelRun one = train_alone(image_stream(), method, options, trainer);
  const std::vector<ParallelRun> two = train_in_group(2, image_stream(), method, options, trainer);
  require_same_run(one, two[0], 1e-9);
}

TEST_CASE("The parts' weighted losses and gradients average to the whole batch's", "[continual][parallel]") {
  auto workload = text_stream()();
  AmLora<double> strategy(everlora_test::tiny_text_options());
  strategy.before_task(*workload, 0);
  strategy.after_task(*workload, 0);
  strategy.before_task(*workload, 1);  // two experts under the mixers: the gate L1 has a gradient
  const std::vector<ExampleRef> batch{{1, 0}, {0, 6}, {1, 3}, {0, 2}, {1, 5}};
  const std::vector<Tensor<double>> params = workload->model().trainable_parameters();
  auto loss_and_gradients = [&](Index part, Index parts) {
    workload->set_shard({part, parts});
    for (Tensor<double> p : params) p.zero_grad();
    Tensor<double> loss = strategy.training_loss(*workload, batch);
    loss.backward();
    std::vector<double> out{loss.item()};
    for (const Tensor<double>& p : params)
      for (double g : p.grad().to_vector()) out.push_back(g);
    return out;
  };
  const std::vector<double> whole = loss_and_gradients(0, 1);
  for (Index parts : {2, 3}) {
    std::vector<double> mean(whole.size(), 0.0);
    for (Index part = 0; part < parts; ++part) {
      const std::vector<double> mine = loss_and_gradients(part, parts);
      for (std::size_t i = 0; i < mean.size(); ++i) mean[i] += mine[i] / static_cast<double>(parts);
    }
    INFO(parts << " parts");
    for (std::size_t i = 0; i < whole.size(); ++i) REQUIRE(mean[i] == Approx(whole[i]).margin(1e-12));
  }
  workload->set_shard({});
}

TEST_CASE("Only process 0 writes checkpoints, and a resume needs the same number of processes", "[continual][parallel][checkpoint]") {
  const std::string dir = (std::filesystem::temp_directory_path() / "everlora_parallel_checkpoint").string();
  std::filesystem::remove_all(dir);
  TrainerOptions trainer = short_trainer(6, 16);
  trainer.checkpoint_dir = dir;
  trainer.checkpoint_every = 2;
  const StrategyOptions options = everlora_test::small_lora_options();
  const std::vector<ParallelRun> two = train_in_group(2, synthetic_stream(), "i_lora", options, trainer);
  const nlohmann::json manifest = read_run_checkpoint<double>(dir).manifest;
  CHECK(manifest["config"]["processes"] == 2);
  Index state_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) state_files += entry.path().extension() == ".safetensors" ? 1 : 0;
  CHECK(state_files == 1);  // two writers would race to leave two

  TrainerOptions resume = trainer;
  resume.resume = true;
  const std::vector<ParallelRun> again = train_in_group(2, synthetic_stream(), "i_lora", options, resume);
  CHECK(again[0].result.r.rows() == two[0].result.r.rows());
  auto workload = synthetic_stream()();
  auto strategy = make_strategy<double>("i_lora", options);
  try {
    train_continual(*workload, *strategy, resume);
    FAIL("a checkpoint of 2 processes resumed in 1");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::Contains("/processes is 2 there and 1 here"));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("Processes whose models diverge are stopped after the task, naming the process", "[continual][parallel]") {
  try {
    run_group(2, [](Communicator& comm) {
      SyntheticWorkload<double> workload(2, 32, 4, 4, comm.rank() == 0 ? 9 : 10);  // another base on process 1
      auto strategy = make_strategy<double>("seq_lora", everlora_test::small_lora_options());
      TrainerOptions trainer = short_trainer(2, 16);
      trainer.communicator = &comm;
      train_continual(workload, *strategy, trainer);
    });
    FAIL("the diverged processes were not stopped");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::value);
    CHECK_THAT(e.what(), Catch::Contains("after task 1, process 1's model and strategy state"));
  }
}

TEST_CASE("A batch smaller than the number of processes is refused, and a workload without shards", "[continual][parallel]") {
  auto synthetic = synthetic_stream()();
  synthetic->set_shard({1, 3});
  try {
    synthetic->loss({{0, 0}, {0, 1}});
    FAIL("a batch of 2 split over 3 processes");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::config);
    CHECK_THAT(e.what(), Catch::Contains("a batch of 2 examples cannot be split over 3 processes"));
  }
  CHECK_THROWS_AS(synthetic->set_shard({3, 3}), Error);
  // The trainer refuses it before any work (on every process: none waits for the others).
  const auto too_small_a_batch = [](Communicator& comm) {
    auto workload = synthetic_stream()();
    auto strategy = make_strategy<double>("seq_lora", everlora_test::small_lora_options());
    TrainerOptions trainer = short_trainer(2, 2);
    trainer.communicator = &comm;
    train_continual(*workload, *strategy, trainer);
  };
  CHECK_THROWS_WITH(run_group(3, too_small_a_batch), Catch::Contains("batch_size 2 is smaller than the 3 data-parallel processes"));

  struct Unsharded : SyntheticWorkload<double> {
    using SyntheticWorkload<double>::SyntheticWorkload;
    bool supports_shards() const override { return false; }
  } plain(2, 8, 2, 2, 1);
  CHECK_THROWS_WITH(plain.set_shard({0, 2}), Catch::Contains("does not support data-parallel training"));
}

TEST_CASE("A shard takes every parts-th example of a batch and a contiguous range of a split", "[continual][parallel]") {
  const BatchShard second{1, 3};
  CHECK(second.of(std::vector<int>{0, 1, 2, 3, 4, 5, 6}) == std::vector<int>{1, 4});
  Index covered = 0;
  for (Index part = 0; part < 3; ++part) {
    const auto [begin, end] = BatchShard{part, 3}.range(10);
    CHECK(begin == covered);
    covered = end;
  }
  CHECK(covered == 10);
  CHECK(second.weight(2, 7) == Approx(6.0 / 7.0));
  CHECK(BatchShard{}.weight(2, 7) == 1.0);
  CHECK(ScoreTally{3, 4}.percent() == 75.0);
  CHECK_THROWS_AS(ScoreTally{}.percent(), Error);
}
