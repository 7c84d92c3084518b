// libFuzzer target: the PEFT adapter_config.json reader (detail::parse_peft_config) on arbitrary
// text, then its target_modules matched against typical layer paths as load_peft_adapter does.
// everlora::Error is the expected answer to a bad config; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "everlora/io/peft_adapter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto parsed = everlora::detail::parse_peft_config(text, "adapter_config.json");
    for (const char* path : {"blocks.0.attn.q", "model.layers.11.self_attn.v_proj", "lm_head"})
      parsed.targets.matches(path);
  } catch (const everlora::Error&) {
  }
  return 0;
}
