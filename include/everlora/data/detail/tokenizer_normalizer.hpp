// everlora — tokenizer internals: tokenizer.json's "normalizer": NFC, NFD, NFKC, NFKD, Prepend,
// Replace (a literal String or a Regex pattern), Strip and Sequence of these, or null. Any other
// type is an Error(config) naming it and what is supported.
#ifndef EVERLORA_DATA_DETAIL_TOKENIZER_NORMALIZER_HPP
#define EVERLORA_DATA_DETAIL_TOKENIZER_NORMALIZER_HPP

#include <memory>
#include <string>
#include <vector>

#include "everlora/data/detail/tokenizer_json.hpp"
#include "everlora/data/detail/tokenizer_regex.hpp"
#include "everlora/data/detail/tokenizer_unicode.hpp"

namespace everlora::detail::tok {

/// A "pattern" object: {"String": literal} or {"Regex": pattern}. The literal is matched as is.
struct Pattern {
  std::string literal;
  std::shared_ptr<const Regex> regex;  // null for a literal

  /// Calls on_match(start, end) for each non-overlapping occurrence in text, left to right.
  template <class F>
  void for_each_match(std::string_view text, F&& on_match) const {
    if (regex) {
      regex->for_each_match(text, on_match);
      return;
    }
    if (literal.empty()) return;
    std::size_t pos = 0;
    while ((pos = text.find(literal, pos)) != std::string_view::npos) {
      on_match(pos, pos + literal.size());
      pos += literal.size();
    }
  }
};

inline Pattern parse_pattern(const Json& j, const Where& at) {
  const Json& p = require(j, "pattern", at);
  Pattern out;
  if (const Json* s = find(p, "String")) {
    if (!s->is_string()) (at / "pattern" / "String").fail("is " + show(*s) + ", not a string");
    out.literal = s->get<std::string>();
  } else if (const Json* r = find(p, "Regex")) {
    if (!r->is_string()) (at / "pattern" / "Regex").fail("is " + show(*r) + ", not a string");
    const Where rw = at / "pattern" / "Regex";
    out.regex = std::make_shared<const Regex>(r->get<std::string>(), rw.source + ": key '" + rw.key + "'");
  } else {
    (at / "pattern").fail("is " + show(p) + ", but a pattern is {\"String\": ...} or {\"Regex\": ...}");
  }
  return out;
}

/// text with every match of `pattern` replaced by `content`.
inline std::string replace_all(const std::string& text, const Pattern& pattern, const std::string& content) {
  std::string out;
  std::size_t prev = 0;
  pattern.for_each_match(text, [&](std::size_t start, std::size_t end) {
    out.append(text, prev, start - prev);
    out += content;
    prev = end;
  });
  if (prev == 0 && out.empty()) return text;
  out.append(text, prev, std::string::npos);
  return out;
}

class Normalizer {
 public:
  Normalizer() = default;

  /// From the "normalizer" value (null: no normalisation).
  static Normalizer from_json(const Json& j, const Where& at) {
    Normalizer n;
    if (!j.is_null()) n.add(j, at);
    return n;
  }

  bool empty() const { return steps_.empty(); }

  /// Normalises s in place.
  void apply(std::string& s) const {
    for (const Step& step : steps_) {
      switch (step.kind) {
        case Kind::unicode: unicode_normalize(s, step.form); break;
        case Kind::prepend:
          if (!s.empty()) s.insert(0, step.text);
          break;
        case Kind::replace: s = replace_all(s, step.pattern, step.text); break;
        case Kind::strip: strip(s, step.left, step.right); break;
      }
    }
  }

 private:
  enum class Kind { unicode, prepend, replace, strip };
  struct Step {
    Kind kind = Kind::unicode;
    UnicodeForm form = UnicodeForm::nfc;
    std::string text;  // Prepend's prefix, Replace's content
    Pattern pattern;
    bool left = false, right = false;
  };

  void add(const Json& j, const Where& at) {
    const std::string type = type_of(j, at);
    Step step;
    if (type == "Sequence") {
      const Json& list = array_at(j, "normalizers", at);
      for (std::size_t i = 0; i < list.size(); ++i) add(list[i], (at / "normalizers")[i]);
      return;
    } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
      step.form = type == "NFC"    ? UnicodeForm::nfc
                  : type == "NFD"  ? UnicodeForm::nfd
                  : type == "NFKC" ? UnicodeForm::nfkc
                                   : UnicodeForm::nfkd;
    } else if (type == "Prepend") {
      step.kind = Kind::prepend;
      step.text = string_at(j, "prepend", at);
    } else if (type == "Replace") {
      step.kind = Kind::replace;
      step.pattern = parse_pattern(j, at);
      step.text = string_at(j, "content", at);
    } else if (type == "Strip") {
      step.kind = Kind::strip;
      step.left = bool_or(j, "strip_left", true, at);
      step.right = bool_or(j, "strip_right", true, at);
    } else {
      (at / "type").fail("is \"" + type + "\", an unsupported normalizer (supported: NFC, NFD, NFKC, NFKD, "
                         "Prepend, Replace, Strip, Sequence, null)");
    }
    steps_.push_back(std::move(step));
  }

  static void strip(std::string& s, bool left, bool right) {
    std::size_t begin = 0, end = s.size();
    if (left)
      while (begin < end) {
        std::size_t i = begin;
        if (!is_white_space(next_cp(s, i))) break;
        begin = i;
      }
    if (right)
      while (end > begin) {
        std::size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0u) == 0x80u) --start;
        std::size_t i = start;
        if (!is_white_space(next_cp(s, i))) break;
        end = start;
      }
    s = s.substr(begin, end - begin);
  }

  std::vector<Step> steps_;
};

}  // namespace everlora::detail::tok

#endif  // EVERLORA_DATA_DETAIL_TOKENIZER_NORMALIZER_HPP
