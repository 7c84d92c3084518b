// everlora — files: atomic writes, safetensors tensors, module save/load, GPT checkpoints and
// PEFT adapter directories.
//   #include <everlora/io.hpp>
#ifndef EVERLORA_IO_HPP
#define EVERLORA_IO_HPP

#include "everlora/core.hpp"
#include "everlora/nn.hpp"
#include "everlora/io/atomic_file.hpp"
#include "everlora/io/safetensors.hpp"
#include "everlora/io/gpt_checkpoint.hpp"
#include "everlora/io/mapped_file.hpp"
#include "everlora/io/hf_config.hpp"
#include "everlora/io/hf_model.hpp"
#include "everlora/io/peft_name_map.hpp"
#include "everlora/io/peft_adapter.hpp"
#include "everlora/io/fingerprint.hpp"

#endif  // EVERLORA_IO_HPP
