// The C++ blocks of README.md and the concept and method pages, compiled and run here as their
// twins (snippets_test.cpp checks that each region below is its page's block, line for line).
// Each test gives a block the variables its page assumes, then checks what the page says it does.
#include <catch2/catch.hpp>

#include <everlora/core.hpp>
#include <everlora/data.hpp>
#include <everlora/everlora.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "continual/synthetic_workload.hpp"
#include "continual/tiny_fixtures.hpp"

namespace {

namespace fs = std::filesystem;

/// A folder of this name in the working directory for a test's lifetime.
struct ScratchFolder {
  explicit ScratchFolder(std::string folder) : name(std::move(folder)) { fs::remove_all(name); }
  ~ScratchFolder() { fs::remove_all(name); }
  std::string name;
};

// ---- docs/concepts/modules.md ----
template <class T>
class Scale : public everlora::Module<T> {
 public:
  explicit Scale(everlora::Index dim) {
    this->register_parameter("gain", gain_, everlora::Tensor<T>::ones({dim}));
  }
  const char* type_name() const override { return "Scale"; }
  everlora::Tensor<T> forward(const everlora::Tensor<T>& x) const { return x * gain_; }

 private:
  everlora::Tensor<T> gain_;
};
// ----

// ---- docs/concepts/continual.md: your own strategy ----
template <class T>
class FreezeAfterFirst : public everlora::Strategy<T> {   // train one expert on task 1 only
 public:
  using everlora::Strategy<T>::Strategy;
  std::string name() const override { return "freeze_after_first"; }
  void before_task(everlora::Workload<T>& w, everlora::Index t) override {
    if (t == 0) everlora::add_task_expert(w.model(), this->options().lora, "only", 0);
  }
};
// ----

/// A GPT small enough for a test, with the layers the pages name (q, k, v, o, fc1, fc2).
std::shared_ptr<everlora::GPT<float>> small_gpt() {
  everlora::GPTConfig config;
  config.d_model = 16, config.n_layers = 1, config.n_heads = 2, config.context = 96, config.seed = 3;
  return std::make_shared<everlora::GPT<float>>(config);
}

/// Two tiny exact-match tasks.
everlora::Stream small_stream() {
  auto task = [](const std::string& name, const std::string& a, const std::string& b) {
    everlora::Task t{{name, {a, b}, everlora::TaskMetric::exact_match}, {}, {}, {}};
    for (int i = 0; i < 4; ++i) t.train.push_back({"Pick one.", "case " + std::to_string(i), i % 2 ? a : b});
    t.dev = t.test = {t.train[0], t.train[1]};
    return t;
  };
  return everlora::Stream{"small", {task("colour", "red", "blue"), task("size", "big", "small")}};
}

}  // namespace

TEST_CASE("README.md's snippet computes a gradient", "[docs]") {
  // ---- README.md ----
  everlora::Rng rng(0);
  auto x = everlora::Tensor<float>::normal({8, 64}, rng, 0.0f, 1.0f);
  auto w = everlora::Tensor<float>::normal({10, 64}, rng, 0.0f, 0.1f).requires_grad_();
  auto loss = everlora::cross_entropy(everlora::matmul_nt(x, w), {0, 1, 2, 3, 4, 5, 6, 7});
  loss.backward();   // w.grad() holds dloss/dw
  // ----
  CHECK(w.grad().shape() == everlora::Shape{10, 64});
}

TEST_CASE("The tensor page's snippets make a parameter and take an SGD step", "[docs]") {
  // ---- docs/concepts/tensor_autograd.md: a parameter ----
  everlora::Rng rng(42);
  auto w = everlora::Tensor<float>::normal({512, 256}, rng, 0.0f, 0.02f).requires_grad_();
  // ----
  CHECK(w.requires_grad());
  auto x = everlora::Tensor<float>::normal({4, 256}, rng, 0.0f, 1.0f);
  auto b = everlora::Tensor<float>::zeros({512}).requires_grad_();
  const std::vector<std::int32_t> targets{0, 1, 2, 3};
  const std::vector<float> before = w.to_vector();
  // ---- docs/concepts/tensor_autograd.md: one SGD step ----
  auto loss = cross_entropy(matmul_nt(x, w) + b, targets);
  loss.backward();                 // w.grad(), b.grad() now hold dloss/dw, dloss/db
  {
    everlora::NoGrad no_graph;
    w.vec() -= 0.1f * w.grad().vec();
  }
  w.zero_grad();
  // ----
  CHECK(w.to_vector() != before);
  CHECK(w.grad().vec().cwiseAbs().maxCoeff() == 0.0f);
}

TEST_CASE("The modules page's Scale module has one parameter", "[docs]") {
  Scale<float> scale(3);
  CHECK(scale.named_parameters().size() == 1);
  CHECK(scale.forward(everlora::Tensor<float>::ones({2, 3})).to_vector() == std::vector<float>(6, 1.0f));
}

TEST_CASE("The optimizers page's loop trains a GPT and its progress bar runs", "[docs]") {
  auto gpt = small_gpt();
  everlora::GPT<float>& model = *gpt;
  const long steps = 120;  // the schedule's warm-up is 100 steps
  const everlora::Index B = 2, T = 4;
  const std::vector<std::int32_t> ids{1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<std::int32_t> targets{2, 3, 4, 5, 6, 7, 8, 9};
  {
    // ---- docs/concepts/optim.md: a training loop ----
    using namespace everlora;

    AdamWOptions opt_options;
    opt_options.lr = 3e-4;
    opt_options.weight_decay = 0.1;
    AdamW<float> opt(model.named_parameters(), opt_options);   // only requires_grad parameters
    const WarmupCosine schedule(3e-4, /*warmup_steps=*/100, /*total_steps=*/steps, /*min_lr=*/3e-5);

    Progress bar(steps, "pretrain");
    while (opt.step_count() < steps) {
      opt.zero_grad();
      Tensor<float> loss = cross_entropy(model.forward(ids, B, T), targets);
      loss.backward();
      clip_grad_norm(opt, 1.0);                       // global L2 norm of all gradients ≤ 1
      opt.set_lr(schedule(opt.step_count()));         // step_count() = index of the step about to run
      opt.step();
      bar.update(1, "loss " + std::to_string(loss.item()));
    }
    bar.finish();
    // ----
    CHECK(opt.step_count() == steps);
  }
  const long total = 10, n = 4;
  using everlora::Progress;
  // ---- docs/concepts/optim.md: the progress bar ----
  Progress bar(total, "pretrain");       // total ≤ 0: unknown (count and rate only)
  bar.update(n, "loss 1.23");            // n more items done; the status stays until replaced
  bar.print("eval: acc 0.91");           // a line above the bar
  bar.finish();                          // also done by the destructor
  // ----
}

TEST_CASE("The adapters page's snippet attaches experts that alone train", "[docs]") {
  auto gpt = small_gpt();
  everlora::GPT<float>& model = *gpt;
  // ---- docs/concepts/adapters.md ----
  everlora::LoraConfig config;
  config.r = 8;
  config.alpha = 16;
  config.target_modules = {"q", "k", "v", "o", "fc1", "fc2"};
  std::vector<std::string> adapted = everlora::attach(model, config);   // expert "default"
  everlora::AdamW<float> optimizer(model.named_parameters());           // only the experts train
  // ----
  CHECK(adapted.size() == 6);
  CHECK(optimizer.parameters().size() == 12);  // A and B of six layers
}

TEST_CASE("The functional LoRA page's snippet runs forward and backward", "[docs]") {
  using Mat = everlora::RowMatrix<float>;
  const Mat x = Mat::Random(4, 6), W0 = Mat::Random(5, 6), A = Mat::Random(2, 6), B = Mat::Random(5, 2), dY = Mat::Random(4, 5);
  const Eigen::VectorXf bias = Eigen::VectorXf::Zero(5);
  const float scale = 2.0f;
  Mat y(4, 5), dX(4, 6), dA(2, 6), dB(5, 2);
  // ---- docs/concepts/lora_functional.md ----
  everlora::LoraWorkspace<float> ws;                               // keeps x·Aᵀ for backward
  everlora::lora_forward<float>(x, W0, bias, A, B, scale, y, ws);  // y = x·W0ᵀ + b + s·(x·Aᵀ)·Bᵀ
  everlora::lora_backward<float>(x, W0, A, B, scale, ws, dY, dX, dA, dB);
  // ----
  const Mat expected = x * W0.transpose() + scale * (x * A.transpose()) * B.transpose();
  CHECK((y - expected).cwiseAbs().maxCoeff() < 1e-4f);
  CHECK((dB - scale * dY.transpose() * (x * A.transpose())).cwiseAbs().maxCoeff() < 1e-4f);
}

TEST_CASE("The data page's snippet reads a stream and batches an example", "[docs]") {
  const ScratchFolder folder("my_stream");
  everlora::save_stream(folder.name, small_stream());
  // ---- docs/concepts/data.md ----
  using namespace everlora;

  const Stream stream = load_stream("my_stream");          // checks every file
  const Task& task = stream.tasks.at(0);
  const EncodedExample e = encode_example(task.train.at(0), task.spec, /*max_len=*/256);
  const TokenBatch batch = make_token_batch({&e});         // ids, targets, mask: [batch, seq]
  const std::vector<Index> order =                          // epoch 0 of seed 7
      shuffled_order(static_cast<Index>(task.train.size()), /*seed=*/7, /*epoch=*/0);
  // ----
  CHECK(batch.batch == 1);
  CHECK(order.size() == task.train.size());
}

/// The continual page's checkpoint snippet: a run that continues from its checkpoint if it has one.
everlora::ContinualResult run_with_checkpoints(everlora::Workload<float>& workload, everlora::Strategy<float>& strategy) {
  // ---- docs/concepts/continual.md: checkpoints ----
  everlora::TrainerOptions options;
  options.checkpoint_dir = "runs/seq_lora";  // the whole run's state: after R[0] and every task
  options.checkpoint_every = 50;             // and every 50 steps within a task
  options.resume = everlora::has_run_checkpoint(options.checkpoint_dir);  // a killed run continues
  auto result = everlora::train_continual(workload, strategy, options);  // the R of an uninterrupted run
  // ----
  return result;
}

TEST_CASE("The continual page's own strategy and checkpoint snippets run", "[docs]") {
  const ScratchFolder runs("runs");
  const auto fresh_run = [] {  // as the program does when started again
    everlora_test::SyntheticWorkload<float> workload(2, 16, 2, 2, 3);
    FreezeAfterFirst<float> strategy(everlora_test::small_lora_options());
    return run_with_checkpoints(workload, strategy);
  };
  const everlora::ContinualResult first = fresh_run();
  REQUIRE(everlora::has_run_checkpoint("runs/seq_lora"));
  const everlora::ContinualResult again = fresh_run();  // resumes the finished run
  CHECK(again.r.rows() == first.r.rows());
}

TEST_CASE("The seam page's two ways to build I-LoRA around AM-LoRA are the same method", "[docs]") {
  const everlora::StrategyOptions options = everlora_test::small_lora_options();
  // ---- docs/concepts/seam.md ----
  auto by_name = everlora::make_strategy<float>("i_lora+am_lora", options);
  everlora::ILora<float> by_hand(std::make_unique<everlora::AmLora<float>>(options), options);
  // ----
  CHECK(by_hand.name() == "i_lora+am_lora");
  CHECK(by_name->name() == by_hand.name());
  const auto run = [](everlora::Strategy<float>& strategy) {
    everlora_test::SyntheticWorkload<float> workload(2, 16, 2, 2, 3);
    everlora::TrainerOptions trainer;
    trainer.steps_per_task = 4;
    trainer.batch_size = 4;
    trainer.progress = everlora::ProgressMode::silent;
    return everlora::train_continual(workload, strategy, trainer);
  };
  const everlora::ContinualResult named = run(*by_name), handmade = run(by_hand);
  CHECK(named.r.rows() == handmade.r.rows());
  CHECK(named.final_loss == handmade.final_loss);
}

TEST_CASE("The AM-LoRA page's snippet trains and reports its routing", "[docs]") {
  everlora::TextWorkload<float> workload(small_gpt(), small_stream());
  everlora::TrainerOptions trainer_options;
  trainer_options.steps_per_task = 2;
  trainer_options.batch_size = 2;
  trainer_options.progress = everlora::ProgressMode::silent;
  using namespace everlora;
  // ---- docs/methods/am_lora.md ----
  StrategyOptions options;
  options.lora.target_modules = {"q", "k", "v", "o", "fc1", "fc2"};
  options.mixer.gate = GateFunction::sigmoid;   // or softmax, sparsemax
  options.am_l1_lambda = 0.01;
  auto strategy = make_strategy<float>("am_lora", options);
  train_continual(workload, *strategy, trainer_options);
  MixerRouting routing = measure_mixer_routing(workload, Split::test);
  // ----
  CHECK(routing.layers.size() == 6);
  CHECK(routing.mean_gate.size() == 2);
}
