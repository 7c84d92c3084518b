// everlora — data: the byte tokenizer and the text corpora from Debian's packages.
//   #include <everlora/data.hpp>
#ifndef EVERLORA_DATA_HPP
#define EVERLORA_DATA_HPP

#include "everlora/data/byte_tokenizer.hpp"
#include "everlora/data/fortunes.hpp"

#endif  // EVERLORA_DATA_HPP
