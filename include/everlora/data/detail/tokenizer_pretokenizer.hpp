// everlora — tokenizer internals: tokenizer.json's "pre_tokenizer", which cuts normalised text
// into the pieces the model encodes one by one: Split (String or Regex pattern, every behavior,
// invert), ByteLevel (GPT-2's regex when use_regex, add_prefix_space), Metaspace (replacement,
// prepend_scheme, split), Digits, Whitespace, WhitespaceSplit and Sequence of these, or null.
// ByteLevel's mapping of bytes onto its alphabet is left to the model, which works on raw bytes.
#ifndef EVERLORA_DATA_DETAIL_TOKENIZER_PRETOKENIZER_HPP
#define EVERLORA_DATA_DETAIL_TOKENIZER_PRETOKENIZER_HPP

#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "everlora/data/detail/tokenizer_normalizer.hpp"

namespace everlora::detail::tok {

/// GPT-2's pre-tokenizer regex (ByteLevel with use_regex).
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

/// A piece of text; at_origin when it starts at offset 0 of the original text (Metaspace "first").
struct Piece {
  std::string_view text;
  bool at_origin = false;
};

/// Strings made during pre-tokenization (a prefix added, spaces replaced) that pieces point into.
using Arena = std::deque<std::string>;

enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

struct Span {
  std::size_t start, end;
  bool flag;  // a match (before invert), later: "remove"
};

/// Rust's NormalizedString::split: the spans of text (matches flagged) regrouped by behavior.
inline void split_spans(const std::vector<Span>& matches, SplitBehavior behavior, std::vector<Span>& out) {
  out.clear();
  bool previous = false;
  switch (behavior) {
    case SplitBehavior::isolated:
      for (const Span& s : matches) out.push_back({s.start, s.end, false});
      return;
    case SplitBehavior::removed: out = matches; return;
    case SplitBehavior::contiguous:
      for (const Span& s : matches) {
        if (s.flag == previous && !out.empty()) out.back().end = s.end;
        else out.push_back({s.start, s.end, false});
        previous = s.flag;
      }
      return;
    case SplitBehavior::merged_with_previous:
      for (const Span& s : matches) {
        if (s.flag && !previous && !out.empty()) out.back().end = s.end;
        else out.push_back({s.start, s.end, false});
        previous = s.flag;
      }
      return;
    case SplitBehavior::merged_with_next:
      for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
        if (it->flag && !previous && !out.empty()) out.back().start = it->start;
        else out.push_back({it->start, it->end, false});
        previous = it->flag;
      }
      std::reverse(out.begin(), out.end());
      return;
  }
}

class PreTokenizer {
 public:
  PreTokenizer() = default;

  static PreTokenizer from_json(const Json& j, const Where& at) {
    PreTokenizer p;
    if (!j.is_null()) p.add(j, at);
    return p;
  }

  /// Whether a ByteLevel step is present: the model then reads raw bytes (byte-level BPE).
  bool byte_level() const { return byte_level_; }

  /// Cuts `in` (one section of normalised text) into pieces appended to `out`.
  void apply(Piece in, Arena& arena, std::vector<Piece>& out) const {
    std::vector<Piece> current{in}, next;
    std::vector<Span> matches, spans;
    for (const Step& step : steps_) {
      next.clear();
      for (const Piece& piece : current) apply_step(step, piece, arena, matches, spans, next);
      current.swap(next);
    }
    for (const Piece& p : current)
      if (!p.text.empty()) out.push_back(p);
  }

 private:
  enum class Kind { split, byte_level, metaspace, digits, whitespace_split };
  enum class Prepend { always, first, never };
  struct Step {
    Kind kind = Kind::split;
    Pattern pattern;  // split (and Whitespace, as a regex split)
    SplitBehavior behavior = SplitBehavior::isolated;
    bool invert = false;
    bool add_prefix_space = false;  // ByteLevel
    std::string replacement;        // Metaspace
    Prepend prepend = Prepend::always;
    bool split = true;  // Metaspace
    bool individual_digits = false;
  };

  void add(const Json& j, const Where& at) {
    const std::string type = type_of(j, at);
    if (byte_level_)
      at.fail("follows a ByteLevel pre-tokenizer; only a ByteLevel as the last step is supported");
    Step s;
    if (type == "Sequence") {
      const Json& list = array_at(j, "pretokenizers", at);
      for (std::size_t i = 0; i < list.size(); ++i) add(list[i], (at / "pretokenizers")[i]);
      return;
    } else if (type == "Split") {
      s.pattern = parse_pattern(j, at);
      s.behavior = parse_behavior(string_at(j, "behavior", at), at / "behavior");
      s.invert = bool_or(j, "invert", false, at);
    } else if (type == "ByteLevel") {
      s.kind = Kind::byte_level;
      s.add_prefix_space = bool_or(j, "add_prefix_space", true, at);
      if (bool_or(j, "use_regex", true, at))
        s.pattern.regex = gpt2_regex();
      byte_level_ = true;
    } else if (type == "Metaspace") {
      s.kind = Kind::metaspace;
      s.replacement = string_or(j, "replacement", "\xE2\x96\x81", at);
      std::size_t i = 0;
      if (s.replacement.empty() || (next_cp(s.replacement, i), i != s.replacement.size()))
        (at / "replacement").fail("is \"" + s.replacement + "\", not one character");
      const std::string scheme = string_or(j, "prepend_scheme", "always", at);
      if (scheme == "always") s.prepend = Prepend::always;
      else if (scheme == "first") s.prepend = Prepend::first;
      else if (scheme == "never") s.prepend = Prepend::never;
      else (at / "prepend_scheme").fail("is \"" + scheme + "\"; supported: first, always, never");
      if (!bool_or(j, "add_prefix_space", true, at)) s.prepend = Prepend::never;
      s.split = bool_or(j, "split", true, at);
    } else if (type == "Digits") {
      s.kind = Kind::digits;
      s.individual_digits = bool_or(j, "individual_digits", false, at);
    } else if (type == "Whitespace") {
      static const auto whitespace = std::make_shared<const Regex>(R"(\w+|[^\w\s]+)", "Whitespace pre-tokenizer");
      s.pattern.regex = whitespace;
      s.behavior = SplitBehavior::removed;
      s.invert = true;
    } else if (type == "WhitespaceSplit") {
      s.kind = Kind::whitespace_split;
    } else {
      (at / "type").fail("is \"" + type + "\", an unsupported pre_tokenizer (supported: Split, ByteLevel, "
                         "Metaspace, Digits, Whitespace, WhitespaceSplit, Sequence, null)");
    }
    steps_.push_back(std::move(s));
  }

  static SplitBehavior parse_behavior(const std::string& b, const Where& at) {
    if (b == "Removed") return SplitBehavior::removed;
    if (b == "Isolated") return SplitBehavior::isolated;
    if (b == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
    if (b == "MergedWithNext") return SplitBehavior::merged_with_next;
    if (b == "Contiguous") return SplitBehavior::contiguous;
    at.fail("is \"" + b + "\"; supported: Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
  }

  static std::shared_ptr<const Regex> gpt2_regex() {
    static const auto re = std::make_shared<const Regex>(kGpt2Pattern, "ByteLevel pre-tokenizer");
    return re;
  }

  /// The spans of `text`: runs between matches (unflagged) and matches (flagged), Rust's find_matches.
  template <class Matcher>
  static void find_spans(std::string_view text, Matcher&& for_each_match, std::vector<Span>& out) {
    out.clear();
    std::size_t prev = 0;
    for_each_match([&](std::size_t start, std::size_t end) {
      if (prev != start) out.push_back({prev, start, false});
      out.push_back({start, end, true});
      prev = end;
    });
    if (prev != text.size()) out.push_back({prev, text.size(), false});
  }

  /// The spans of `text` by a per-character predicate: each matching character is its own span.
  template <class Pred>
  static void char_spans(std::string_view text, Pred&& pred, std::vector<Span>& out) {
    out.clear();
    std::size_t last = 0, i = 0;
    while (i < text.size()) {
      const std::size_t b = i;
      if (pred(next_cp(text, i))) {
        if (last < b) out.push_back({last, b, false});
        out.push_back({b, i, true});
        last = i;
      }
    }
    if (text.size() > last) out.push_back({last, text.size(), false});
  }

  static void emit(const Piece& piece, const std::vector<Span>& spans, std::vector<Piece>& out) {
    for (const Span& s : spans)
      if (!s.flag && s.end > s.start)
        out.push_back({piece.text.substr(s.start, s.end - s.start), piece.at_origin && s.start == 0});
  }

  void apply_step(const Step& s, Piece piece, Arena& arena, std::vector<Span>& matches,
                  std::vector<Span>& spans, std::vector<Piece>& out) const {
    std::string_view text = piece.text;
    switch (s.kind) {
      case Kind::split: {
        find_spans(text, [&](auto&& f) { s.pattern.for_each_match(text, f); }, matches);
        if (s.invert)
          for (Span& m : matches) m.flag = !m.flag;
        split_spans(matches, s.behavior, spans);
        emit(piece, spans, out);
        return;
      }
      case Kind::byte_level: {
        if (s.add_prefix_space && !text.empty() && text[0] != ' ') {
          arena.push_back(" " + std::string(text));
          piece.text = text = arena.back();
        }
        if (!s.pattern.regex) {
          out.push_back(piece);
          return;
        }
        find_spans(text, [&](auto&& f) { s.pattern.for_each_match(text, f); }, matches);
        split_spans(matches, SplitBehavior::isolated, spans);
        emit(piece, spans, out);
        return;
      }
      case Kind::metaspace: {
        std::string replaced;
        replaced.reserve(text.size() + 8);
        const bool starts = text.substr(0, s.replacement.size()) == s.replacement ||
                            (!text.empty() && text[0] == ' ');
        if (!text.empty() && !starts &&
            (s.prepend == Prepend::always || (s.prepend == Prepend::first && piece.at_origin)))
          replaced += s.replacement;
        for (char c : text) {
          if (c == ' ') replaced += s.replacement;
          else replaced += c;
        }
        arena.push_back(std::move(replaced));
        const Piece whole{arena.back(), piece.at_origin};
        if (!s.split) {
          out.push_back(whole);
          return;
        }
        const Pattern p{s.replacement, nullptr};
        find_spans(whole.text, [&](auto&& f) { p.for_each_match(whole.text, f); }, matches);
        split_spans(matches, SplitBehavior::merged_with_next, spans);
        emit(whole, spans, out);
        return;
      }
      case Kind::digits:
        char_spans(text, [](std::uint32_t cp) { return is_numeric(cp); }, matches);
        split_spans(matches, s.individual_digits ? SplitBehavior::isolated : SplitBehavior::contiguous, spans);
        emit(piece, spans, out);
        return;
      case Kind::whitespace_split:
        char_spans(text, [](std::uint32_t cp) { return is_white_space(cp); }, matches);
        emit(piece, matches, out);  // whitespace flagged: removed
        return;
    }
  }

  std::vector<Step> steps_;
  bool byte_level_ = false;
};

}  // namespace everlora::detail::tok

#endif  // EVERLORA_DATA_DETAIL_TOKENIZER_PRETOKENIZER_HPP
