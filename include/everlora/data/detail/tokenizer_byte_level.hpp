// everlora — tokenizer internals: GPT-2's byte-level alphabet, the map of the 256 byte values onto
// 256 printable code points (printable ASCII and Latin-1 map to themselves, the rest to U+0100 on)
// that byte-level BPE vocabularies are written in, and its inverse.
#ifndef EVERLORA_DATA_DETAIL_TOKENIZER_BYTE_LEVEL_HPP
#define EVERLORA_DATA_DETAIL_TOKENIZER_BYTE_LEVEL_HPP

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "everlora/data/detail/tokenizer_unicode.hpp"

namespace everlora::detail::tok {

/// The code point of each byte (GPT-2's bytes_to_unicode), computed once.
inline const std::array<std::uint32_t, 256>& byte_to_cp() {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    std::uint32_t next = 256;
    for (std::uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      t[b] = printable ? b : next++;
    }
    return t;
  }();
  return table;
}

/// The byte of a byte-level code point, or -1 for a code point outside the alphabet.
inline int cp_to_byte(std::uint32_t cp) {
  static const std::array<std::int16_t, 324> inverse = [] {
    std::array<std::int16_t, 324> t{};
    t.fill(-1);
    for (int b = 0; b < 256; ++b) t[byte_to_cp()[static_cast<std::size_t>(b)]] = static_cast<std::int16_t>(b);
    return t;
  }();
  return cp < inverse.size() ? inverse[cp] : -1;
}

/// The raw bytes a byte-level string stands for; false when a character is outside the alphabet.
inline bool byte_level_to_bytes(std::string_view token, std::string& out) {
  out.clear();
  std::size_t i = 0;
  while (i < token.size()) {
    const int b = cp_to_byte(next_cp(token, i));
    if (b < 0) return false;
    out += static_cast<char>(b);
  }
  return true;
}

/// Bytes written in the byte-level alphabet.
inline std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) append_utf8(out, byte_to_cp()[c]);
  return out;
}

}  // namespace everlora::detail::tok

#endif  // EVERLORA_DATA_DETAIL_TOKENIZER_BYTE_LEVEL_HPP
