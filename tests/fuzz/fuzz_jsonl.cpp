// libFuzzer target: the JSONL task-file reader (detail::parse_jsonl_numbered) on arbitrary text,
// with and without require_output. everlora::Error is the expected answer to a bad file; anything
// else is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "everlora/data/jsonl.hpp"

namespace {

void parse(std::string_view text, bool require_output) {
  try {
    everlora::detail::parse_jsonl_numbered(text, "fuzz.jsonl", require_output);
  } catch (const everlora::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  parse(text, true);
  parse(text, false);
  return 0;
}
