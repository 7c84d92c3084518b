// everlora — tokenizer internals: UTF-8 (validate, step through code points, encode), the Unicode
// classes the Rust tokenizers use outside regexes (White_Space, \w, numeric) and the NFC/NFD/NFKC/
// NFKD normalisations (through utf8proc, Debian: libutf8proc-dev).
#ifndef EVERLORA_DATA_DETAIL_TOKENIZER_UNICODE_HPP
#define EVERLORA_DATA_DETAIL_TOKENIZER_UNICODE_HPP

#include <utf8proc.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "everlora/core/error.hpp"

namespace everlora::detail::tok {

/// The byte offset of the first invalid UTF-8 sequence in s, or npos when s is valid UTF-8
/// (no overlong forms, no surrogates, nothing above U+10FFFF).
inline std::size_t invalid_utf8_at(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0, min = 0;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1Fu, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0Fu, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07u, min = 0x10000;
    else return i;
    if (i + len > n) return i;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0u) != 0x80u) return i;
      cp = (cp << 6) | (p[i + k] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

/// The length in bytes of the UTF-8 sequence starting with lead byte c (1 for a stray byte).
inline std::size_t utf8_len(unsigned char c) {
  if (c < 0xC0) return 1;
  if (c < 0xE0) return 2;
  if (c < 0xF0) return 3;
  return 4;
}

/// The code point at s[i] (s valid UTF-8); advances i past it.
inline std::uint32_t next_cp(std::string_view s, std::size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const std::size_t len = utf8_len(c);
  std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
  for (std::size_t k = 1; k < len && i + k < s.size(); ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
  i += len;
  return cp;
}

/// The code point just before byte i (s valid UTF-8, i > 0).
inline std::uint32_t prev_cp(std::string_view s, std::size_t i) {
  std::size_t start = i - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0u) == 0x80u) --start;
  return next_cp(s, start);
}

inline void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// Unicode's White_Space property (Rust's char::is_whitespace and the regex class `\s`).
inline bool is_white_space(std::uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

/// Rust's char::is_numeric: general categories Nd, Nl, No.
inline bool is_numeric(std::uint32_t cp) {
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}

/// The regex class `\w` in Unicode mode: letters, marks, decimal digits, connector punctuation (and Join_Control).
inline bool is_word_char(std::uint32_t cp) {
  if (cp == 0x200C || cp == 0x200D) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

/// The Unicode normalisation forms of the NFC/NFD/NFKC/NFKD normalizers.
enum class UnicodeForm { nfc, nfd, nfkc, nfkd };

/// s in the given form (s valid UTF-8). Text that cannot change is returned as is without a copy
/// into utf8proc: pure ASCII for every form, and anything below U+0300 for NFC.
inline void unicode_normalize(std::string& s, UnicodeForm form) {
  bool may_change = false;
  const unsigned char threshold = form == UnicodeForm::nfc ? 0xCC : 0x80;
  for (unsigned char c : s)
    if (c >= threshold) {
      may_change = true;
      break;
    }
  if (!may_change) return;
  int options = UTF8PROC_STABLE;
  if (form == UnicodeForm::nfc || form == UnicodeForm::nfkc) options |= UTF8PROC_COMPOSE;
  else options |= UTF8PROC_DECOMPOSE;
  if (form == UnicodeForm::nfkc || form == UnicodeForm::nfkd) options |= UTF8PROC_COMPAT;
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
                   &out, static_cast<utf8proc_option_t>(options));
  if (n < 0) {
    std::free(out);
    throw Error(ErrorKind::value, std::string("tokenizer: Unicode normalisation failed: ") +
                                      utf8proc_errmsg(n));
  }
  s.assign(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
  std::free(out);
}

}  // namespace everlora::detail::tok

#endif  // EVERLORA_DATA_DETAIL_TOKENIZER_UNICODE_HPP
