// libFuzzer target: the safetensors reader (from_safetensors_bytes) on arbitrary bytes, loaded as
// float and as double. everlora::Error is the expected answer to a bad file; anything else (another
// exception, a crash, a sanitizer report) is a bug. Both scalar types must agree on whether the
// bytes are a valid file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "everlora/io/safetensors.hpp"

namespace {

/// True if `bytes` load as SafetensorsFile<T>, false if they are refused with everlora::Error.
template <class T>
bool loads_as(std::string_view bytes) {
  try {
    everlora::from_safetensors_bytes<T>(bytes, "fuzz.safetensors");
    return true;
  } catch (const everlora::Error&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (loads_as<float>(bytes) != loads_as<double>(bytes)) std::abort();
  return 0;
}
