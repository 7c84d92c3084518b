// everlora — PeftNameMap: renames module paths between everlora and another model's names, so a
// PEFT adapter file can name the layers of a Hugging Face model ("transformer.h.0.attn.q_proj")
// while everlora's GPT calls them "blocks.0.attn.q". Identity by default; rules work both ways.
//   PeftNameMap names;
//   names.prefix("blocks", "transformer.h").suffix("attn.q", "attn.q_proj");
//   names.to_peft("blocks.0.attn.q") == "transformer.h.0.attn.q_proj";   // and from_peft back
// @sa docs/formats.md
#ifndef EVERLORA_IO_PEFT_NAME_MAP_HPP
#define EVERLORA_IO_PEFT_NAME_MAP_HPP

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "everlora/core/error.hpp"

namespace everlora {

/// Renames dotted module paths (never the ".lora_A.weight" tail) between everlora and PEFT names.
/// A path is renamed by the first whole-path rule that matches it; failing that, by the first
/// matching prefix rule and the first matching suffix rule (which must not overlap). Rules match
/// whole components: prefix "blocks" matches "blocks.0.attn.q", not "blocks2.0".
class PeftNameMap {
 public:
  /// Identity.
  PeftNameMap() = default;

  /// Leading components `everlora` ⇄ `peft`: prefix("blocks", "transformer.h").
  PeftNameMap& prefix(const std::string& everlora, const std::string& peft) {
    prefixes_.push_back(make_rule("prefix", everlora, peft, false));
    return *this;
  }
  /// Trailing components `everlora` ⇄ `peft`: suffix("mlp.fc1", "mlp.c_fc").
  PeftNameMap& suffix(const std::string& everlora, const std::string& peft) {
    suffixes_.push_back(make_rule("suffix", everlora, peft, false));
    return *this;
  }
  /// A whole path; a component "{name}" matches any one component and is copied across:
  /// rule("blocks.{i}.attn.q", "transformer.h.{i}.attn.q_proj").
  PeftNameMap& rule(const std::string& everlora, const std::string& peft) {
    rules_.push_back(make_rule("rule", everlora, peft, true));
    return *this;
  }

  /// The PEFT name of everlora module path `path`.
  std::string to_peft(const std::string& path) const { return apply(path, false); }
  /// The everlora module path of PEFT name `name`.
  std::string from_peft(const std::string& name) const { return apply(name, true); }
  /// True when no rule was added.
  bool identity() const { return rules_.empty() && prefixes_.empty() && suffixes_.empty(); }

 private:
  using Parts = std::vector<std::string>;
  struct Rule {
    Parts sides[2];  // [0] everlora, [1] peft
  };

  static Parts split(const std::string& path) {
    Parts out;
    std::size_t start = 0;
    for (;;) {
      const std::size_t dot = path.find('.', start);
      out.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      if (dot == std::string::npos) return out;
      start = dot + 1;
    }
  }
  static std::string join(const Parts& parts, std::size_t begin, std::size_t end) {
    std::string out;
    for (std::size_t i = begin; i < end; ++i) out += (i > begin ? "." : "") + parts[i];
    return out;
  }
  static bool is_placeholder(const std::string& c) {
    return c.size() > 2 && c.front() == '{' && c.back() == '}';
  }

  static Rule make_rule(const char* kind, const std::string& everlora, const std::string& peft,
                        bool placeholders) {
    Rule r{{split(everlora), split(peft)}};
    std::map<std::string, int> seen[2];
    for (int s = 0; s < 2; ++s)
      for (const auto& c : r.sides[s]) {
        if (c.empty())
          throw Error(ErrorKind::config, std::string("PeftNameMap::") + kind + "('" + everlora +
                                             "', '" + peft + "'): empty path component");
        if (is_placeholder(c) && !placeholders)
          throw Error(ErrorKind::config, std::string("PeftNameMap::") + kind + "('" + everlora +
                                             "', '" + peft + "'): placeholders such as '" + c +
                                             "' are only allowed in rule()");
        if (is_placeholder(c) && ++seen[s][c] > 1)
          throw Error(ErrorKind::config, std::string("PeftNameMap::rule('") + everlora + "', '" +
                                             peft + "'): placeholder " + c + " appears twice");
      }
    if (seen[0] != seen[1])
      throw Error(ErrorKind::config, std::string("PeftNameMap::rule('") + everlora + "', '" + peft +
                                         "'): both sides must use the same placeholders");
    return r;
  }

  std::string apply(const std::string& path, bool reverse) const {
    const int from = reverse ? 1 : 0, to = reverse ? 0 : 1;
    const Parts parts = split(path);
    for (const auto& r : rules_) {
      const Parts& pattern = r.sides[from];
      if (pattern.size() != parts.size()) continue;
      std::map<std::string, std::string> bound;
      bool match = true;
      for (std::size_t i = 0; i < parts.size() && match; ++i) {
        if (is_placeholder(pattern[i]))
          bound[pattern[i]] = parts[i];
        else
          match = pattern[i] == parts[i];
      }
      if (!match) continue;
      Parts out = r.sides[to];
      for (auto& c : out)
        if (is_placeholder(c)) c = bound.at(c);
      return join(out, 0, out.size());
    }
    const Rule* pre = nullptr;
    const Rule* post = nullptr;
    for (const auto& r : prefixes_)
      if (!pre && starts_with(parts, r.sides[from])) pre = &r;
    for (const auto& r : suffixes_)
      if (!post && ends_with(parts, r.sides[from])) post = &r;
    const std::size_t head = pre ? pre->sides[from].size() : 0;
    const std::size_t tail = post ? post->sides[from].size() : 0;
    if (head + tail > parts.size()) post = nullptr;  // overlapping: the prefix rule wins
    std::string out = pre ? join(pre->sides[to], 0, pre->sides[to].size()) : "";
    const std::string middle = join(parts, head, parts.size() - (post ? tail : 0));
    if (!middle.empty()) out += (out.empty() ? "" : ".") + middle;
    if (post) out += (out.empty() ? "" : ".") + join(post->sides[to], 0, post->sides[to].size());
    return out;
  }
  static bool starts_with(const Parts& parts, const Parts& p) {
    if (p.size() > parts.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i)
      if (parts[i] != p[i]) return false;
    return true;
  }
  static bool ends_with(const Parts& parts, const Parts& p) {
    if (p.size() > parts.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i)
      if (parts[parts.size() - p.size() + i] != p[i]) return false;
    return true;
  }

  std::vector<Rule> rules_, prefixes_, suffixes_;
};

}  // namespace everlora

#endif  // EVERLORA_IO_PEFT_NAME_MAP_HPP
