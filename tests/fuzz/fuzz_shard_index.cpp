// libFuzzer target: the shard index reader (detail::read_shard_index, io/hf_model.hpp) on an
// arbitrary model.safetensors.index.json. Each input is written as that file into one scratch
// folder per process (mkdtemp under /tmp, removed at exit), beside one small valid shard,
// model-00001-of-00001.safetensors. everlora::Error is the expected answer to a bad index; anything
// else is a bug, and so is an accepted index naming a shard that is not a plain file of that
// folder: a name that is empty, holds '/' or a NUL byte, or is anything but the two files there.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "everlora/io/hf_model.hpp"

namespace {

const char* const kShard = "model-00001-of-00001.safetensors";
const char* const kIndex = "model.safetensors.index.json";

std::string& scratch() {
  static std::string dir;
  return dir;
}

void remove_scratch() {
  std::remove((scratch() + "/" + kShard).c_str());
  std::remove((scratch() + "/" + kIndex).c_str());
  ::rmdir(scratch().c_str());
}

/// The scratch folder, made (with its shard) on the first call.
const std::string& folder() {
  if (scratch().empty()) {
    char pattern[] = "/tmp/everlora_fuzz_shard_index_XXXXXX";
    if (!::mkdtemp(pattern)) {
      std::perror("fuzz_shard_index: mkdtemp");
      std::abort();
    }
    scratch() = pattern;
    std::atexit(remove_scratch);
    everlora::StateDict<float> tensors;
    tensors.emplace("model.norm.weight", everlora::Tensor<float>::zeros({4}));
    everlora::save_safetensors(scratch() + "/" + kShard, tensors, {{"format", "pt"}});
  }
  return scratch();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& dir = folder();
  std::FILE* index = std::fopen((dir + "/" + kIndex).c_str(), "wb");
  if (!index || std::fwrite(data, 1, size, index) != size || std::fclose(index) != 0) {
    std::perror("fuzz_shard_index: cannot write the index");
    std::abort();
  }
  try {
    for (const auto& [shard, tensors] : everlora::detail::read_shard_index(dir)) {
      if (shard != kShard && shard != kIndex) {
        std::fprintf(stderr, "fuzz_shard_index: the index was accepted with the shard name '%s' (%zu bytes)\n",
                     shard.c_str(), shard.size());
        std::abort();
      }
      if (tensors.empty()) std::abort();
    }
  } catch (const everlora::Error&) {
  }
  return 0;
}
