// everlora — what the benchmark builders (textcl.hpp, domains.hpp) share: cleaning raw corpus
// text into one line of valid UTF-8, cutting it at a word boundary, seeded shuffles, a multi-pattern
// substring search (the leak check of a pretraining corpus), and writing a stream folder
// (stream.json, <task>/{train,dev,test}.jsonl, BUILD_INFO.json) atomically, file by file.
// Internal: everything here is in everlora::detail::corpus.
#ifndef EVERLORA_DATA_BUILDERS_COMMON_HPP
#define EVERLORA_DATA_BUILDERS_COMMON_HPP

#include <algorithm>
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "everlora/config.hpp"
#include "everlora/core/error.hpp"
#include "everlora/core/random.hpp"
#include "everlora/data/task.hpp"

namespace everlora {
namespace detail {
namespace corpus {

/// The length of the well-formed UTF-8 sequence starting at s[i], or 0 if it is ill-formed
/// (overlong forms, surrogates and code points past U+10FFFF are ill-formed).
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  const std::size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || s.size() - i < len) return 0;
  std::uint32_t cp = c & (0x7Fu >> len);
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3Fu);
  }
  static const std::uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

/// `raw` as one line of valid UTF-8: overstrikes ("_\bX", "X\bX") resolved to the last character,
/// other control characters dropped, runs of whitespace collapsed to one space, the ends trimmed,
/// every byte that does not start a well-formed UTF-8 sequence replaced by '?'. With
/// `strip_braces`, dictd's link markup {…} loses its braces (the text inside stays).
inline std::string clean_text(std::string_view raw, bool strip_braces = false) {
  // What each byte is: 0 kept, 1 whitespace, 2 dropped, 3 backspace, 4 non-ASCII, 5 a brace.
  static const auto kClass = [] {
    std::array<unsigned char, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = 2;
    for (const char c : {' ', '\t', '\n', '\r', '\f', '\v'}) t[static_cast<unsigned char>(c)] = 1;
    t[0x7F] = 2;
    t['\b'] = 3;
    for (int c = 0x80; c < 0x100; ++c) t[static_cast<std::size_t>(c)] = 4;
    t['{'] = t['}'] = 5;
    return t;
  }();
  std::string out;
  out.reserve(raw.size());
  bool space = false;  // whitespace seen since the last kept character
  for (std::size_t i = 0; i < raw.size();) {
    const unsigned char kind = kClass[static_cast<unsigned char>(raw[i])];
    if (kind == 0 || (kind == 5 && !strip_braces)) {  // a run of plain characters
      std::size_t j = i + 1;
      while (j < raw.size() && kClass[static_cast<unsigned char>(raw[j])] == 0) ++j;
      if (space) out.push_back(' ');
      space = false;
      out.append(raw.data() + i, j - i);
      i = j;
    } else if (kind == 1) {
      space = !out.empty();
      ++i;
    } else if (kind == 3) {  // overstrike ("_\bX", "X\bX"): the character after it wins
      if (space) space = false;
      else if (!out.empty() && static_cast<unsigned char>(out.back()) < 0x80) out.pop_back();
      ++i;
    } else if (kind == 4) {
      if (space) out.push_back(' ');
      space = false;
      const std::size_t len = utf8_sequence_length(raw, i);
      if (len == 0) out.push_back('?');
      else out.append(raw.data() + i, len);
      i += len == 0 ? 1 : len;
    } else {  // bell and the like, link braces: dropped
      ++i;
    }
  }
  return out;
}

/// The first bytes of `text` (clean, one line) up to `max_bytes`: cut after the last whole word
/// when that keeps more than half, otherwise at the last UTF-8 character boundary.
inline std::string truncate_text(const std::string& text, Index max_bytes) {
  const auto max = static_cast<std::size_t>(std::max<Index>(max_bytes, 0));
  if (text.size() <= max) return text;
  std::size_t cut = max;
  const std::size_t space = text.rfind(' ', max);  // text[max] == ' ' keeps every word whole
  if (space != std::string::npos && space > max / 2) {
    cut = space;
  } else {
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  }
  std::string out = text.substr(0, cut);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

/// Fisher–Yates with everlora::Rng: the same permutation on every platform.
template <class T>
void shuffle(std::vector<T>& items, Rng& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(rng.below(i));
    std::swap(items[i - 1], items[j]);
  }
}

/// A generator for one part of a build, independent of the others: the seed mixed with `salt`.
inline Rng part_rng(std::uint64_t seed, std::uint64_t salt) {
  return Rng(mix64(seed ^ mix64(salt + 0x6a09e667f3bcc909ULL)));
}

/// Finds whether a text contains any of a set of patterns (Rabin–Karp on the patterns' first
/// `window` bytes, `window` = the shortest pattern's length, then a full comparison).
class SubstringIndex {
 public:
  explicit SubstringIndex(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {
    patterns_.erase(std::remove(patterns_.begin(), patterns_.end(), std::string()), patterns_.end());
    if (patterns_.empty()) return;
    window_ = patterns_.front().size();
    for (const auto& p : patterns_) window_ = std::min(window_, p.size());
    power_ = 1;
    for (std::size_t i = 1; i < window_; ++i) power_ *= kBase;
    for (std::size_t k = 0; k < patterns_.size(); ++k) {
      const std::uint64_t h = hash(patterns_[k].data());
      by_hash_[h].push_back(k);
      filter_[(h >> 40) & kFilterMask] = 1;
    }
  }

  /// True if some pattern occurs in `text`.
  bool found_in(std::string_view text) const {
    if (patterns_.empty() || text.size() < window_) return false;
    std::uint64_t h = hash(text.data());
    for (std::size_t i = 0;; ++i) {
      if (!filter_[(h >> 40) & kFilterMask]) {
        // no pattern starts with these bytes: the common case, without a hash-map lookup
      } else if (const auto it = by_hash_.find(h); it != by_hash_.end()) {
        for (const std::size_t k : it->second)
          if (text.compare(i, patterns_[k].size(), patterns_[k]) == 0) return true;
      }
      if (i + window_ >= text.size()) return false;
      h = (h - power_ * static_cast<unsigned char>(text[i])) * kBase +
          static_cast<unsigned char>(text[i + window_]);
    }
  }

 private:
  static constexpr std::uint64_t kBase = 1099511628211ULL;  // odd: arithmetic mod 2^64
  static constexpr std::uint64_t kFilterMask = (1u << 20) - 1;
  std::uint64_t hash(const char* p) const {
    std::uint64_t h = 0;
    for (std::size_t i = 0; i < window_; ++i) h = h * kBase + static_cast<unsigned char>(p[i]);
    return h;
  }

  std::vector<std::string> patterns_;
  std::size_t window_ = 0;
  std::uint64_t power_ = 1;  // kBase^(window_ - 1)
  std::unordered_map<std::uint64_t, std::vector<std::size_t>> by_hash_;
  std::vector<unsigned char> filter_ = std::vector<unsigned char>(kFilterMask + 1, 0);
};

/// Throws Error(config) "<who>: <what>" unless `ok`.
inline void require_option(bool ok, const std::string& who, const std::string& what) {
  if (!ok) throw Error(ErrorKind::config, who + ": " + what);
}

/// {"name": {"train": n, "dev": n, "test": n}} for BUILD_INFO.json.
inline nlohmann::ordered_json split_counts(const Stream& stream) {
  nlohmann::ordered_json counts;
  for (const Task& task : stream.tasks)
    counts[task.spec.name] = {{"train", task.train.size()},
                              {"dev", task.dev.size()},
                              {"test", task.test.size()}};
  return counts;
}

}  // namespace corpus
}  // namespace detail
}  // namespace everlora

#endif  // EVERLORA_DATA_BUILDERS_COMMON_HPP
