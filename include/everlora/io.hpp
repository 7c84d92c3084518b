// everlora — files: atomic writes, safetensors tensors and module save/load.
//   #include <everlora/io.hpp>
#ifndef EVERLORA_IO_HPP
#define EVERLORA_IO_HPP

#include "everlora/core.hpp"
#include "everlora/nn.hpp"
#include "everlora/io/atomic_file.hpp"
#include "everlora/io/safetensors.hpp"
#include "everlora/io/gpt_checkpoint.hpp"

#endif  // EVERLORA_IO_HPP
