// 05_forgetting — forgetting, and the methods that fight it, in a few seconds
// (docs/getting_started.md). A small MLP learns upright Fashion-MNIST. Then each method adapts a
// fresh copy of it with LoRA to three rotations in turn; its accuracy matrix R shows how much of
// the earlier rotations it still knows, and AA and BWT sum that up. With --model, the same on a
// Hugging Face model folder (docs/models.md): textcl's first three text tasks, read with the
// model's own tokenizer.
//   build/examples/05_forgetting [--methods seq_lora,replay,am_lora] [--steps N] [--quick]
//   build/examples/05_forgetting --model SmolLM2-135M [--tokenizer DIR] [--methods …] [--steps N]
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <everlora/everlora.hpp>

using everlora::Index;
using Backbone = everlora::MLPClassifier<float>;

const std::vector<Index> kLayerSizes = {784, 128, 64, 10};

/// The "pretrained model": an MLP trained on upright images with AdamW.
std::shared_ptr<Backbone> pretrain_backbone(const everlora::ImageSet& upright, Index steps) {
  everlora::Rng init(1);
  auto mlp = std::make_shared<Backbone>(kLayerSizes, init);
  everlora::AdamW<float> optimizer(mlp->named_parameters(), {});
  const Index batch = 64;
  everlora::Progress bar(steps, "pretrain on upright images");
  std::vector<std::int32_t> labels;
  for (Index step = 0; step < steps; ++step) {
    std::vector<std::pair<const everlora::ImageSet*, Index>> images;
    for (Index i = 0; i < batch; ++i) images.emplace_back(&upright, (step * batch + i) % upright.count);
    const everlora::Tensor<float> pixels = everlora::gather_images<float>(images, labels);  // fills labels
    everlora::Tensor<float> loss = everlora::cross_entropy(mlp->forward(pixels), labels);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    bar.update(1);
  }
  bar.finish();
  return mlp;
}

/// A fresh copy of the pretrained backbone: every method starts from the same weights.
std::shared_ptr<Backbone> copy_of(const Backbone& pretrained) {
  everlora::Rng unused(0);
  auto copy = std::make_shared<Backbone>(kLayerSizes, unused);
  copy->load_state_dict(pretrained.state_dict());
  return copy;
}

/// The workload of one method's run: rotated images on the MLP, or text tasks on a model folder.
std::unique_ptr<everlora::Workload<float>> text_workload(const std::string& model_dir, const std::string& tokenizer_dir, bool quick) {
  everlora::TextclOptions textcl;  // textcl's first three tasks, small
  textcl.train_per_label = quick ? 4 : 40, textcl.dev_per_label = 0, textcl.test_per_label = quick ? 2 : 10;
  everlora::Stream stream = everlora::build_textcl(textcl);
  stream.tasks.resize(3);
  everlora::TextWorkloadOptions options;
  options.max_len = 256;
  const auto codec = everlora::TextCodec::from_tokenizer(everlora::Tokenizer::from_folder(tokenizer_dir.empty() ? model_dir : tokenizer_dir));
  return std::make_unique<everlora::TextWorkload<float>>(everlora::load_hf_model<float>(model_dir), stream, options, codec);
}

int main(int argc, char** argv) {
  std::vector<std::string> methods = {"seq_lora", "replay", "am_lora"};
  Index steps = 150;
  bool quick = false;
  std::string model_dir, tokenizer_dir;
  CLI::App app{"Forgetting on rotated Fashion-MNIST: R, AA and BWT of continual-learning methods"};
  app.add_option("--methods", methods, "comma-separated method names (cl_run --list)")->delimiter(',')->capture_default_str();
  app.add_option("--steps", steps, "training steps per rotation")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_flag("--quick", quick, "5 steps on a few images (the test suite's run; overrides --steps)");
  app.add_option("--model", model_dir, "a Hugging Face model folder: textcl's first three tasks on it instead");
  app.add_option("--tokenizer", tokenizer_dir, "folder of the model's tokenizer.json (default: --model)");
  CLI11_PARSE(app, argc, argv);
  if (quick) steps = 5;

  try {
    if (!model_dir.empty()) {
      std::printf("%-18s %6s %6s   R[T][j] (exact match %% on each task after the last one)\n", "method", "AA", "BWT");
      for (const std::string& method : methods) {
        const auto workload = text_workload(model_dir, tokenizer_dir, quick);
        everlora::StrategyOptions options;
        options.lora.r = 8;
        options.lora.alpha = 16;
        options.lora.target_modules = dynamic_cast<everlora::DecoderLM<float>&>(workload->model()).config().projection_names();
        auto strategy = everlora::make_strategy<float>(method, options);
        everlora::TrainerOptions trainer;
        trainer.steps_per_task = steps;
        trainer.batch_size = quick ? 2 : 8;
        trainer.lr = 1e-3;
        const everlora::ContinualResult result = everlora::train_continual(*workload, *strategy, trainer);
        const everlora::ClMetrics metrics = everlora::compute_metrics(result.r);
        std::printf("%-18s %6.1f %6.1f  ", method.c_str(), metrics.aa, metrics.bwt);
        for (double score : result.r.rows().back()) std::printf(" %5.1f", score);
        std::printf("\n");
      }
      return 0;
    }
    const everlora::ImageSet upright = everlora::subset(everlora::load_fashion_mnist(true), 0, quick ? 256 : 20000);
    const std::shared_ptr<Backbone> pretrained = pretrain_backbone(upright, quick ? 4 : 600);
    const auto tasks = everlora::rotated_fashion_mnist({30, 75, 120}, quick ? 128 : 2000, quick ? 64 : 500);

    std::printf("%-18s %6s %6s   R[T][j] (accuracy %% on each rotation after the last one)\n", "method", "AA", "BWT");
    for (const std::string& method : methods) {
      // ---- docs/getting_started.md: a continual run ----
      everlora::ImageWorkload<float> workload(copy_of(*pretrained), tasks);

      everlora::StrategyOptions options;  // what every method shares: the LoRA experts
      options.lora.r = 8;
      options.lora.alpha = 16;
      options.lora.target_modules = {"fc1", "fc2", "fc3"};
      auto strategy = everlora::make_strategy<float>(method, options);  // "seq_lora", "am_lora", …

      everlora::TrainerOptions trainer;
      trainer.steps_per_task = steps;
      trainer.batch_size = 64;
      trainer.lr = 2e-3;
      const everlora::ContinualResult result = everlora::train_continual(workload, *strategy, trainer);
      const everlora::ClMetrics metrics = everlora::compute_metrics(result.r);  // AA, BWT, FWT, F.Ra, LA
      // ----

      std::printf("%-18s %6.1f %6.1f  ", method.c_str(), metrics.aa, metrics.bwt);
      const std::vector<std::vector<double>> r = result.r.rows();
      for (double score : r.back()) std::printf(" %5.1f", score);
      std::printf("\n");
    }
  } catch (const std::exception& e) {  // everlora::Error names the bad method, file or shape
    std::fprintf(stderr, "05_forgetting: %s\n", e.what());
    return 1;
  }
  return 0;
}
