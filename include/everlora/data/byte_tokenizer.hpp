// everlora — the byte tokenizer: every byte is its own id (0–255), plus four special ids.
// Byte-level models need no vocabulary file and can read any text, in any language.
#ifndef EVERLORA_DATA_BYTE_TOKENIZER_HPP
#define EVERLORA_DATA_BYTE_TOKENIZER_HPP

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace everlora {

/// The ids above the 256 byte values, and the vocabulary size they make.
struct ByteVocab {
  static constexpr std::int32_t kBos = 256;  ///< start of a sequence
  static constexpr std::int32_t kEos = 257;  ///< end of a sequence (or of a generated answer)
  static constexpr std::int32_t kPad = 258;  ///< padding (never a target)
  static constexpr std::int32_t kSep = 259;  ///< separates a prompt from its answer
  static constexpr std::int32_t kSize = 260;
};

/// The bytes of `text` as ids 0–255.
inline std::vector<std::int32_t> encode_bytes(std::string_view text) {
  std::vector<std::int32_t> ids;
  ids.reserve(text.size());
  for (unsigned char c : text) ids.push_back(c);
  return ids;
}

/// Bytes back into a string; special ids are dropped.
inline std::string decode_bytes(const std::vector<std::int32_t>& ids) {
  std::string text;
  text.reserve(ids.size());
  for (std::int32_t id : ids)
    if (id >= 0 && id < 256) text.push_back(static_cast<char>(static_cast<unsigned char>(id)));
  return text;
}

}  // namespace everlora

#endif  // EVERLORA_DATA_BYTE_TOKENIZER_HPP
