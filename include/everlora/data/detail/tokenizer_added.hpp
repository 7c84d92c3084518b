// everlora — tokenizer internals: the "added_tokens" of tokenizer.json (special tokens such as
// <|begin_of_text|> or <s>, and user-added words), found in the text before normalisation as the
// Rust tokenizers do: leftmost match first, the longest one at that place, with single_word,
// lstrip and rstrip. Tokens with normalized=true are looked for in the normalised text instead.
#ifndef EVERLORA_DATA_DETAIL_TOKENIZER_ADDED_HPP
#define EVERLORA_DATA_DETAIL_TOKENIZER_ADDED_HPP

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "everlora/data/detail/tokenizer_json.hpp"
#include "everlora/data/detail/tokenizer_unicode.hpp"

namespace everlora::detail::tok {

struct AddedToken {
  std::string content;
  std::int32_t id = 0;
  bool special = false, single_word = false, lstrip = false, rstrip = false, normalized = false;
};

inline std::vector<AddedToken> parse_added_tokens(const Json& root, const Where& at) {
  std::vector<AddedToken> out;
  const Json* list = find(root, "added_tokens");
  if (list == nullptr) return out;
  const Where w = at / "added_tokens";
  if (!list->is_array()) w.fail("is " + show(*list) + ", not an array");
  for (std::size_t i = 0; i < list->size(); ++i) {
    const Json& t = (*list)[i];
    const Where ti = w[i];
    AddedToken a;
    a.content = string_at(t, "content", ti);
    if (a.content.empty()) (ti / "content").fail("is empty");
    a.id = id_of(require(t, "id", ti), ti / "id");
    a.special = bool_or(t, "special", false, ti);
    a.single_word = bool_or(t, "single_word", false, ti);
    a.lstrip = bool_or(t, "lstrip", false, ti);
    a.rstrip = bool_or(t, "rstrip", false, ti);
    a.normalized = bool_or(t, "normalized", !a.special, ti);
    out.push_back(std::move(a));
  }
  return out;
}

/// A section of text: either plain text, or an added token (id ≥ 0) that was found there.
struct Section {
  std::string_view text;
  std::int32_t added_id = -1;
  std::size_t offset = 0;  // where it starts in the text it was cut from
};

/// Finds a set of added tokens in text (leftmost-longest, non-overlapping).
class AddedMatcher {
 public:
  AddedMatcher() = default;
  explicit AddedMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
    for (std::size_t i = 0; i < tokens_.size(); ++i)
      by_first_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
    for (auto& list : by_first_)
      std::stable_sort(list.begin(), list.end(), [&](std::size_t a, std::size_t b) {
        return tokens_[a].content.size() > tokens_[b].content.size();
      });
  }

  bool empty() const { return tokens_.empty(); }

  /// Cuts `text` into plain sections and added-token sections, appended to out (empty plain
  /// sections are left out).
  void split(std::string_view text, std::size_t base, std::vector<Section>& out) const {
    if (tokens_.empty()) {
      if (!text.empty()) out.push_back({text, -1, base});
      return;
    }
    std::size_t start_offset = 0, pos = 0;
    while (pos < text.size()) {
      const AddedToken* hit = nullptr;
      for (std::size_t i : by_first_[static_cast<unsigned char>(text[pos])]) {
        const std::string& c = tokens_[i].content;
        if (text.compare(pos, c.size(), c) == 0) {
          hit = &tokens_[i];
          break;
        }
      }
      if (hit == nullptr) {
        ++pos;
        continue;
      }
      std::size_t start = pos, stop = pos + hit->content.size();
      pos = stop;  // the match is consumed even when single_word discards it
      if (hit->single_word) {
        const bool start_space = start == 0 || !is_word_char(prev_cp(text, start));
        std::size_t k = stop;
        const bool stop_space = stop == text.size() || !is_word_char(next_cp(text, k));
        if (!start_space || !stop_space) continue;
      }
      if (hit->lstrip) {
        std::size_t s = start;
        while (s > 0) {
          std::size_t b = s - 1;
          while (b > 0 && (static_cast<unsigned char>(text[b]) & 0xC0u) == 0x80u) --b;
          std::size_t k = b;
          if (!is_white_space(next_cp(text, k))) break;
          s = b;
        }
        start = std::max(s, start_offset);
      }
      if (hit->rstrip) {
        while (stop < text.size()) {
          std::size_t k = stop;
          if (!is_white_space(next_cp(text, k))) break;
          stop = k;
        }
        pos = stop;
      }
      if (start_offset < start) out.push_back({text.substr(start_offset, start - start_offset), -1, base + start_offset});
      out.push_back({text.substr(start, stop - start), hit->id, base + start});
      start_offset = stop;
    }
    if (start_offset < text.size()) out.push_back({text.substr(start_offset), -1, base + start_offset});
  }

 private:
  std::vector<AddedToken> tokens_;
  std::array<std::vector<std::size_t>, 256> by_first_;
};

}  // namespace everlora::detail::tok

#endif  // EVERLORA_DATA_DETAIL_TOKENIZER_ADDED_HPP
