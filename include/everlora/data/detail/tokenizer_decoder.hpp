// everlora — tokenizer internals: the way back from tokens to text and the special tokens around
// an encoding. Decoder: tokenizer.json's "decoder" (ByteLevel, Metaspace, Replace, ByteFallback,
// Fuse, Strip, Sequence, or null: tokens joined by spaces), the Rust tokenizers' decode_chain.
// PostProcessor: "post_processor" (TemplateProcessing's single template, ByteLevel, Sequence, null).
#ifndef EVERLORA_DATA_DETAIL_TOKENIZER_DECODER_HPP
#define EVERLORA_DATA_DETAIL_TOKENIZER_DECODER_HPP

#include <cstdint>
#include <string>
#include <vector>

#include "everlora/data/detail/tokenizer_byte_level.hpp"
#include "everlora/data/detail/tokenizer_normalizer.hpp"

namespace everlora::detail::tok {

/// bytes as UTF-8, each maximal invalid subsequence replaced by U+FFFD (Rust's from_utf8_lossy).
inline std::string utf8_lossy(std::string_view bytes) {
  if (invalid_utf8_at(bytes) == std::string_view::npos) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() + 8);
  std::size_t i = 0;
  while (i < bytes.size()) {
    const std::size_t bad = invalid_utf8_at(bytes.substr(i));
    if (bad == std::string_view::npos) {
      out.append(bytes.substr(i));
      break;
    }
    out.append(bytes.substr(i, bad));
    i += bad;
    // The maximal subpart: the lead byte plus the continuation bytes that could still follow it.
    const auto c = static_cast<unsigned char>(bytes[i]);
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    std::size_t k = 1;
    while (len > 0 && k < len && i + k < bytes.size()) {
      const auto d = static_cast<unsigned char>(bytes[i + k]);
      if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xBF)) break;
      ++k;
    }
    out += "\xEF\xBF\xBD";
    i += k;
  }
  return out;
}

class Decoder {
 public:
  static Decoder from_json(const Json& j, const Where& at) {
    Decoder d;
    if (!j.is_null()) d.add(j, at);
    else d.join_with_spaces_ = true;
    return d;
  }

  std::string decode(std::vector<std::string> tokens) const {
    if (join_with_spaces_) {
      std::string out;
      for (std::size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
      return out;
    }
    for (const Step& s : steps_) tokens = apply(s, std::move(tokens));
    std::string out;
    for (const auto& t : tokens) out += t;
    return out;
  }

 private:
  enum class Kind { byte_level, metaspace, replace, byte_fallback, fuse, strip };
  struct Step {
    Kind kind = Kind::fuse;
    std::string text;  // Metaspace's replacement, Replace's content, Strip's content
    Pattern pattern;
    bool prepend = true;  // Metaspace: prepend_scheme is not "never"
    std::size_t start = 0, stop = 0;
  };

  void add(const Json& j, const Where& at) {
    const std::string type = type_of(j, at);
    Step s;
    if (type == "Sequence") {
      const Json& list = array_at(j, "decoders", at);
      for (std::size_t i = 0; i < list.size(); ++i) add(list[i], (at / "decoders")[i]);
      return;
    } else if (type == "ByteLevel") {
      s.kind = Kind::byte_level;
    } else if (type == "Metaspace") {
      s.kind = Kind::metaspace;
      s.text = string_or(j, "replacement", "\xE2\x96\x81", at);
      s.prepend = string_or(j, "prepend_scheme", "always", at) != "never" && bool_or(j, "add_prefix_space", true, at);
    } else if (type == "Replace") {
      s.kind = Kind::replace;
      s.pattern = parse_pattern(j, at);
      s.text = string_at(j, "content", at);
    } else if (type == "ByteFallback") {
      s.kind = Kind::byte_fallback;
    } else if (type == "Fuse") {
      s.kind = Kind::fuse;
    } else if (type == "Strip") {
      s.kind = Kind::strip;
      s.text = string_at(j, "content", at);
      std::size_t i = 0;
      if (s.text.empty() || (next_cp(s.text, i), i != s.text.size()))
        (at / "content").fail("is \"" + s.text + "\", not one character");
      s.start = count(j, "start", at);
      s.stop = count(j, "stop", at);
    } else {
      (at / "type").fail("is \"" + type + "\", an unsupported decoder (supported: ByteLevel, Metaspace, "
                         "Replace, ByteFallback, Fuse, Strip, Sequence, null)");
    }
    steps_.push_back(std::move(s));
  }

  static std::size_t count(const Json& j, const char* name, const Where& at) {
    const Json* v = find(j, name);
    if (v == nullptr) return 0;
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<std::int64_t>() >= 0))
      (at / name).fail("is " + show(*v) + ", not a count");
    return static_cast<std::size_t>(std::min<std::uint64_t>(v->get<std::uint64_t>(), 1u << 20));
  }

  static std::vector<std::string> apply(const Step& s, std::vector<std::string> tokens) {
    switch (s.kind) {
      case Kind::byte_level: {
        std::string bytes, raw;
        for (const auto& t : tokens) bytes += byte_level_to_bytes(t, raw) ? raw : t;
        return {utf8_lossy(bytes)};
      }
      case Kind::metaspace:
        for (std::size_t i = 0; i < tokens.size(); ++i) {
          std::string out;
          std::string_view t = tokens[i];
          for (std::size_t p = 0; p < t.size();) {
            if (t.compare(p, s.text.size(), s.text) == 0) {
              if (!(i == 0 && s.prepend)) out += ' ';
              p += s.text.size();
            } else {
              out += t[p++];
            }
          }
          tokens[i] = std::move(out);
        }
        return tokens;
      case Kind::replace:
        for (auto& t : tokens) t = replace_all(t, s.pattern, s.text);
        return tokens;
      case Kind::byte_fallback: return byte_fallback(std::move(tokens));
      case Kind::fuse: {
        std::string all;
        for (const auto& t : tokens) all += t;
        return {all};
      }
      case Kind::strip:
        for (auto& t : tokens) {
          std::vector<std::pair<std::size_t, std::size_t>> chars;  // (start, end) of each character
          for (std::size_t i = 0; i < t.size();) {
            const std::size_t b = i;
            next_cp(t, i);
            chars.push_back({b, i});
          }
          std::size_t first = 0, last = chars.size();
          for (std::size_t k = 0; k < s.start && k < chars.size(); ++k) {
            if (t.compare(chars[k].first, chars[k].second - chars[k].first, s.text) != 0) break;
            first = k + 1;
          }
          for (std::size_t k = 0; k < s.stop && k < chars.size(); ++k) {
            const std::size_t idx = chars.size() - k - 1;
            if (t.compare(chars[idx].first, chars[idx].second - chars[idx].first, s.text) != 0) break;
            last = idx;
          }
          if (first >= last) t.clear();
          else t = t.substr(chars[first].first, chars[last - 1].second - chars[first].first);
        }
        return tokens;
    }
    return tokens;
  }

  /// Runs of <0xNN> tokens become their bytes: the text when valid UTF-8, else one U+FFFD per byte.
  static std::vector<std::string> byte_fallback(std::vector<std::string> tokens) {
    std::vector<std::string> out;
    std::string run;
    auto flush = [&] {
      if (run.empty()) return;
      if (invalid_utf8_at(run) == std::string_view::npos) out.push_back(run);
      else
        for (std::size_t k = 0; k < run.size(); ++k) out.push_back("\xEF\xBF\xBD");
      run.clear();
    };
    auto hexval = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    for (auto& t : tokens) {
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && hexval(t[3]) >= 0 && hexval(t[4]) >= 0) {
        run += static_cast<char>(hexval(t[3]) * 16 + hexval(t[4]));
        continue;
      }
      flush();
      out.push_back(std::move(t));
    }
    flush();
    return out;
  }

  std::vector<Step> steps_;
  bool join_with_spaces_ = false;
};

/// The special tokens an encoding gets around its ids (encode with add_special_tokens).
class PostProcessor {
 public:
  static PostProcessor from_json(const Json& j, const Where& at) {
    PostProcessor p;
    if (!j.is_null()) p.add(j, at);
    return p;
  }

  /// ids with the template's special tokens (nothing changes without a TemplateProcessing).
  std::vector<std::int32_t> apply(std::vector<std::int32_t> ids) const {
    for (const auto& tmpl : templates_) {
      std::vector<std::int32_t> out;
      out.reserve(ids.size() + 4);
      for (const Item& item : tmpl) {
        if (item.sequence) out.insert(out.end(), ids.begin(), ids.end());
        else out.insert(out.end(), item.ids.begin(), item.ids.end());
      }
      ids.swap(out);
    }
    return ids;
  }

 private:
  struct Item {
    bool sequence = false;
    std::vector<std::int32_t> ids;
  };

  void add(const Json& j, const Where& at) {
    const std::string type = type_of(j, at);
    if (type == "Sequence") {
      const Json& list = array_at(j, "processors", at);
      for (std::size_t i = 0; i < list.size(); ++i) add(list[i], (at / "processors")[i]);
    } else if (type == "ByteLevel") {
      // Only trims offsets: ids are unchanged.
    } else if (type == "TemplateProcessing") {
      add_template(j, at);
    } else {
      (at / "type").fail("is \"" + type + "\", an unsupported post_processor (supported: TemplateProcessing, "
                         "ByteLevel, Sequence, null)");
    }
  }

  void add_template(const Json& j, const Where& at) {
    const Json& single = array_at(j, "single", at);
    const Json* specials = find(j, "special_tokens");
    std::vector<Item> tmpl;
    for (std::size_t i = 0; i < single.size(); ++i) {
      const Where w = (at / "single")[i];
      const Json& piece = single[i];
      if (const Json* seq = find(piece, "Sequence")) {
        const std::string id = string_at(*seq, "id", w / "Sequence");
        if (id != "A") (w / "Sequence" / "id").fail("is \"" + id + "\", but the single template holds only A");
        tmpl.push_back({true, {}});
      } else if (const Json* sp = find(piece, "SpecialToken")) {
        const std::string id = string_at(*sp, "id", w / "SpecialToken");
        const Json* entry = specials ? find(*specials, id.c_str()) : nullptr;
        if (entry == nullptr)
          (at / "special_tokens").fail("has no entry " + Json(id).dump() + " for " + w.key);
        const Where ew = at / "special_tokens" / id;
        const Json& ids = array_at(*entry, "ids", ew);
        Item item;
        for (std::size_t k = 0; k < ids.size(); ++k) item.ids.push_back(id_of(ids[k], (ew / "ids")[k]));
        tmpl.push_back(std::move(item));
      } else {
        w.fail("is " + show(piece) + ", neither {\"Sequence\": ...} nor {\"SpecialToken\": ...}");
      }
    }
    templates_.push_back(std::move(tmpl));
  }

  std::vector<std::vector<Item>> templates_;
};

}  // namespace everlora::detail::tok

#endif  // EVERLORA_DATA_DETAIL_TOKENIZER_DECODER_HPP
