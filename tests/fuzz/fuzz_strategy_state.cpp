// libFuzzer target: a strategy's load_state on the fields of a run checkpoint, the part of a resume
// after the manifest (restore_replay_buffer, JumpLoRA's masks, SAPT's targets, MoA's buffer, …).
// One input is {"method": <registry name>, "fields": <the manifest's "strategy" object>}; the
// strategy is rebuilt on the tests' synthetic workload at task 2, mid-task, as a resume does, and
// given the fields without tensors. everlora::Error is the expected answer; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "../continual/synthetic_workload.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace everlora;
  try {
    const nlohmann::json input = detail::parse_json_bounded(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    if (!input.is_object() || !input.contains("method") || !input["method"].is_string() || !input.contains("fields")) return 0;
    everlora_test::SyntheticWorkload<float> workload(3, 40, 4, 3, 11);  // resume_run's, which wrote the seeds
    StrategyOptions options;
    options.lora.r = 3;
    options.lora.target_modules = {"proj"};
    options.replay_capacity = 16;
    options.moa.prompt_buffer = 8;
    auto strategy = make_strategy<float>(input["method"].get<std::string>(), options);
    strategy->before_task(workload, 0);
    strategy->replay_after_task(workload, 0);
    strategy->before_task(workload, 1);
    strategy->before_steps(workload, 1, 10);
    StrategyState<float> state;
    state.fields = input["fields"];
    strategy->load_state(workload, state);
  } catch (const Error&) {
  }
  return 0;
}
