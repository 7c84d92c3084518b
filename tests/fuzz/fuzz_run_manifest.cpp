// libFuzzer target: a run checkpoint's manifest.json (parse_run_manifest), then what the trainer
// reads from it to resume (detail::read_run_progress) into a 3-task run with one extra view.
// everlora::Error is the expected answer to a bad file; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "everlora/continual/trainer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace everlora;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const nlohmann::json manifest = parse_run_manifest(text, "fuzz/manifest.json");
    ContinualResult result{AccuracyMatrix(3), {{"fast learner", AccuracyMatrix(3)}}, 0.0, {}};
    detail::read_run_progress(manifest, result, "fuzz/manifest.json");
  } catch (const Error&) {
  }
  return 0;
}
