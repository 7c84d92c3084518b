// 04_data_parallel — continual training shared by MPI processes, from your own program
// (docs/distributed.md). Every process builds the same rotated-Fashion-MNIST stream, MLP and
// strategy. TrainerOptions::communicator makes the trainer split each batch over the processes
// and average their gradients in one allreduce per step. Process 0 prints R, which is the R one
// process would give: run it with -np 1 and -np 2 and compare.
//   mpirun -np 2 build/examples/04_data_parallel [--method i_lora] [--steps N] [--quick]
// Built only with everlora::mpi (-DEVERLORA_MPI=ON).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <everlora/distributed/mpi.hpp>
#include <everlora/everlora.hpp>

int main(int argc, char** argv) {
  // ---- docs/distributed.md: the session ----
  everlora::MpiSession mpi(argc, argv);  // MPI_Init_thread (funneled) … MPI_Finalize; before anything reads argv
  everlora::MpiCommunicator world;       // MPI_COMM_WORLD
  // ----
  std::string method = "i_lora";
  everlora::Index steps = 60;
  bool quick = false;
  CLI::App app{"Continual training shared by MPI processes: rotated Fashion-MNIST, R printed by process 0"};
  app.add_option("--method", method, "a method name (cl_run --list)")->capture_default_str();
  app.add_option("--steps", steps, "training steps per task")->capture_default_str();
  app.add_flag("--quick", quick, "a few steps on a few images");
  CLI11_PARSE(app, argc, argv);
  if (quick) steps = 5;

  try {
    // The same data and the same initial model on every process: the same seeds.
    auto tasks = everlora::rotated_fashion_mnist({0, 45, 90}, quick ? 64 : 1000, quick ? 32 : 300);
    everlora::Rng init(7);
    auto mlp = std::make_shared<everlora::MLPClassifier<float>>(std::vector<everlora::Index>{784, 128, 64, 10}, init);
    everlora::ImageWorkload<float> workload(mlp, tasks);

    everlora::StrategyOptions options;
    options.lora.r = 8;
    options.lora.alpha = 16;
    options.lora.target_modules = {"fc1", "fc2", "fc3"};
    auto strategy = everlora::make_strategy<float>(method, options);

    // ---- docs/distributed.md: the trainer ----
    everlora::TrainerOptions trainer;
    trainer.steps_per_task = steps;
    trainer.batch_size = 64;        // the global batch: each of N processes computes 64 / N images
    trainer.lr = 2e-3;
    trainer.communicator = &world;  // the run is data-parallel over world.size() processes
    const everlora::ContinualResult result = everlora::train_continual(workload, *strategy, trainer);
    // ----

    if (world.rank() == 0) {
      std::printf("%s on %td process(es), %td steps per task:\n", method.c_str(), world.size(), steps);
      for (const auto& row : result.r.rows()) {
        for (double v : row) std::printf(" %6.2f", v);
        std::printf("\n");
      }
      std::printf("allreduce payload per step: %.0f bytes\n",
                  result.steps > 0 ? static_cast<double>(result.step_bytes) / static_cast<double>(result.steps) : 0.0);
    }
  } catch (const everlora::Error& e) {
    std::fprintf(stderr, "04_data_parallel: process %td: %s\n", world.rank(), e.what());
    everlora::MpiSession::abort(1);  // the other processes may be waiting in a collective
  }
  return 0;
}
