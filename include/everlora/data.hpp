// everlora — data: task streams (JSONL + stream.json), prompts and batches on the byte tokenizer,
// Hugging Face tokenizer.json tokenizers, Fashion-MNIST, and the text corpora from Debian's packages.
//   #include <everlora/data.hpp>
#ifndef EVERLORA_DATA_HPP
#define EVERLORA_DATA_HPP

#include "everlora/data/byte_tokenizer.hpp"
#include "everlora/data/fashion_mnist.hpp"
#include "everlora/data/fortunes.hpp"
#include "everlora/data/jsonl.hpp"
#include "everlora/data/prompt.hpp"
#include "everlora/data/stream.hpp"
#include "everlora/data/task.hpp"
#include "everlora/data/tokenizer.hpp"
#include "everlora/data/dictd.hpp"
#include "everlora/data/builders/textcl.hpp"
#include "everlora/data/builders/domains.hpp"

#endif  // EVERLORA_DATA_HPP
