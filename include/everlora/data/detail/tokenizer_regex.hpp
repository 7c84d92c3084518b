// everlora — tokenizer internals: a Unicode regex on PCRE2 (libpcre2-8, Debian: libpcre2-dev),
// compiled with PCRE2_UTF | PCRE2_UCP (so \s, \w, \d and \p{L} are Unicode's, as in the Rust
// tokenizers' Oniguruma), JIT-compiled when PCRE2 has a JIT, and bounded by a match limit and a
// depth limit so that a hostile pattern cannot hang an encode. Compiled once, then shared by every
// thread: each match uses its own match data.
#ifndef EVERLORA_DATA_DETAIL_TOKENIZER_REGEX_HPP
#define EVERLORA_DATA_DETAIL_TOKENIZER_REGEX_HPP

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <memory>
#include <string>
#include <string_view>

#include "everlora/core/error.hpp"
#include "everlora/data/detail/tokenizer_unicode.hpp"

namespace everlora::detail::tok {

/// Matches tried per search before giving up (PCRE2's match_limit), and the backtracking depth of
/// the interpreter (depth_limit): generous for real pre-tokenizer patterns, fatal to (a+)+$.
inline constexpr std::uint32_t kRegexMatchLimit = 10'000'000;
inline constexpr std::uint32_t kRegexDepthLimit = 10'000;

class Regex {
 public:
  /// Compiles `pattern`; throws Error(config) naming `where` with PCRE2's message and offset.
  Regex(const std::string& pattern, const std::string& where) : where_(where) {
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &code, &offset, nullptr);
    if (re == nullptr)
      throw Error(ErrorKind::config, where + " is not a valid regex: " + message(code) + " at offset " +
                                         std::to_string(offset) + " of " + pattern);
    code_.reset(re);
    std::uint32_t has_jit = 0;
    pcre2_config(PCRE2_CONFIG_JIT, &has_jit);
    jit_ = has_jit != 0 && pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
    context_.reset(pcre2_match_context_create(nullptr));
    if (!context_) throw Error(ErrorKind::value, where + ": out of memory for a regex match context");
    pcre2_set_match_limit(context_.get(), kRegexMatchLimit);
    pcre2_set_depth_limit(context_.get(), kRegexDepthLimit);
  }

  /// Calls on_match(start, end) for each successive non-overlapping match in `text` (valid UTF-8),
  /// left to right; after an empty match the search moves on by one character.
  template <class F>
  void for_each_match(std::string_view text, F&& on_match) const {
    MatchData md(pcre2_match_data_create_from_pattern(code_.get(), nullptr));
    if (!md) throw Error(ErrorKind::value, where_ + ": out of memory for regex match data");
    std::size_t pos = 0;
    while (pos <= text.size()) {
      const int rc = match(text, pos, md.get());
      if (rc == PCRE2_ERROR_NOMATCH) return;
      if (rc < 0)
        throw Error(ErrorKind::value, where_ + ": regex search failed on a text of " +
                                          std::to_string(text.size()) + " bytes: " + message(rc));
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
      std::size_t start = ov[0], end = ov[1];
      if (end < start) end = start;  // \K in a lookahead can report end < start
      on_match(start, end);
      if (end > pos) {
        pos = end;
      } else {
        if (pos >= text.size()) return;
        pos += utf8_len(static_cast<unsigned char>(text[pos]));
      }
    }
  }

 private:
  struct CodeFree {
    void operator()(pcre2_code* c) const { pcre2_code_free(c); }
  };
  struct ContextFree {
    void operator()(pcre2_match_context* c) const { pcre2_match_context_free(c); }
  };
  struct DataFree {
    void operator()(pcre2_match_data* d) const { pcre2_match_data_free(d); }
  };
  using MatchData = std::unique_ptr<pcre2_match_data, DataFree>;

  int match(std::string_view text, std::size_t pos, pcre2_match_data* md) const {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    if (jit_) {
      const int rc = pcre2_jit_match(code_.get(), subject, text.size(), pos, 0, md, context_.get());
      if (rc != PCRE2_ERROR_JIT_STACKLIMIT) return rc;  // else: retry in the interpreter
    }
    return pcre2_match(code_.get(), subject, text.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md,
                       context_.get());
  }

  static std::string message(int code) {
    PCRE2_UCHAR buffer[256];
    if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) return "PCRE2 error " + std::to_string(code);
    return reinterpret_cast<const char*>(buffer);
  }

  std::string where_;
  std::unique_ptr<pcre2_code, CodeFree> code_;
  std::unique_ptr<pcre2_match_context, ContextFree> context_;
  bool jit_ = false;
};

}  // namespace everlora::detail::tok

#endif  // EVERLORA_DATA_DETAIL_TOKENIZER_REGEX_HPP
