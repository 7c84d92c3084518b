// everlora — a task's examples as JSON lines (BENCHMARKS.md, "Task data format"):
// one {"instruction": …, "input": …, "output": …} object per line, UTF-8. read_jsonl validates
// every line and names the file and line of the first problem; write_jsonl writes atomically.
// @sa docs/concepts/data.md
#ifndef EVERLORA_DATA_JSONL_HPP
#define EVERLORA_DATA_JSONL_HPP

#include <cstddef>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "everlora/config.hpp"
#include "everlora/core/error.hpp"
#include "everlora/data/task.hpp"
#include "everlora/io/atomic_file.hpp"

namespace everlora {

namespace detail {

/// The offset of the first byte of `s` that does not start a well-formed UTF-8 sequence (overlong
/// forms, surrogates and code points past U+10FFFF are ill-formed), or npos if `s` is valid.
inline std::size_t first_invalid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    // The lead byte gives the length, its payload bits and the smallest code point it may encode.
    const std::size_t len = (c & 0xE0) == 0xC0   ? 2
                            : (c & 0xF0) == 0xE0 ? 3
                            : (c & 0xF8) == 0xF0 ? 4
                                                 : 0;
    if (len == 0 || s.size() - i < len) return i;
    std::uint32_t cp = c & (0x7Fu >> len);
    for (std::size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = cp << 6 | (cc & 0x3Fu);
    }
    const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

/// "0xAB": one byte in hex, for messages.
inline std::string hex_byte(unsigned char b) {
  char buf[5];
  std::snprintf(buf, sizeof buf, "0x%02x", static_cast<unsigned>(b));
  return buf;
}

/// True if `s` holds only ASCII whitespace (or nothing).
inline bool is_blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\v' && c != '\f') return false;
  return true;
}

/// The examples of a JSONL file with the 1-based line number of each (load_stream's label check
/// reports lines too).
struct NumberedExamples {
  std::vector<Example> examples;
  std::vector<Index> lines;
};

/// The examples of the JSONL `text`, checked as read_jsonl documents; `path` names the text in
/// messages ("<path>:<line>: <what>").
inline NumberedExamples parse_jsonl_numbered(std::string_view text, const std::string& path,
                                             bool require_output) {
  NumberedExamples out;
  Index line_no = 0;
  for (std::size_t begin = 0; begin < text.size();) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + begin, end - begin);
    begin = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files
    if (is_blank(line)) continue;

    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    const std::size_t bad = first_invalid_utf8(line);
    if (bad != std::string_view::npos)
      throw Error(ErrorKind::format, where + "invalid UTF-8 at byte " + std::to_string(bad + 1) +
                                         " of the line (" +
                                         hex_byte(static_cast<unsigned char>(line[bad])) + ")");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e400
      throw Error(ErrorKind::format, where + "invalid JSON: " + e.what());
    }
    if (!j.is_object())
      throw Error(ErrorKind::format, where + "not a JSON object but a " + j.type_name());

    Example ex;
    for (auto [key, field] : {std::pair<const char*, std::string*>{"instruction", &ex.instruction},
                              {"input", &ex.input},
                              {"output", &ex.output}}) {
      const auto it = j.find(key);
      if (it == j.end()) throw Error(ErrorKind::format, where + "missing field \"" + key + "\"");
      if (!it->is_string())
        throw Error(ErrorKind::format,
                    where + "field \"" + key + "\" is a " + it->type_name() + ", not a string");
      *field = it->get<std::string>();
    }
    if (require_output && is_blank(ex.output))
      throw Error(ErrorKind::format,
                  where + "empty \"output\" (exact-match tasks need an answer to train on)");
    out.examples.push_back(std::move(ex));
    out.lines.push_back(line_no);
  }
  if (out.examples.empty())
    throw Error(ErrorKind::format, path + ": no examples (the file has no non-blank line)");
  return out;
}

inline NumberedExamples read_jsonl_numbered(const std::string& path, bool require_output) {
  return parse_jsonl_numbered(read_file(path), path, require_output);  // Error(io) naming the path
}

}  // namespace detail

/// The examples of a JSONL file, in file order. Each non-blank line must be a JSON object with the
/// string fields "instruction", "input" and "output" (other fields are ignored); lines holding only
/// whitespace are skipped and CRLF line ends are accepted. With `require_output` (exact-match
/// tasks) an "output" that is empty or only whitespace is an error; pass false for next_byte tasks.
/// Throws Error(io) if the file cannot be read, Error(format) "<path>:<line>: <what>" for invalid
/// UTF-8 (with the byte), invalid JSON, a line that is not an object, a missing or non-string field
/// or an empty output, and Error(format) naming the file if it holds no example at all.
inline std::vector<Example> read_jsonl(const std::string& path, bool require_output = true) {
  return detail::read_jsonl_numbered(path, require_output).examples;
}

/// Replaces `path` atomically with one {"instruction", "input", "output"} object per line (keys in
/// that order, UTF-8 kept as is, "\n" after every line). Throws Error(value) if `examples` is empty
/// (read_jsonl would refuse the file) or a field is not valid UTF-8 (naming the example and field),
/// before anything is written; Error(io) if the file cannot be written.
inline void write_jsonl(const std::string& path, const std::vector<Example>& examples) {
  if (examples.empty())
    throw Error(ErrorKind::value, "write_jsonl '" + path + "': no examples to write");
  std::string text;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const Example& ex = examples[i];
    nlohmann::ordered_json j;
    for (auto [key, field] :
         {std::pair<const char*, const std::string*>{"instruction", &ex.instruction},
          {"input", &ex.input},
          {"output", &ex.output}}) {
      if (detail::first_invalid_utf8(*field) != std::string_view::npos)
        throw Error(ErrorKind::value, "write_jsonl '" + path + "': example " + std::to_string(i) +
                                          " field \"" + key + "\" is not valid UTF-8");
      j[key] = *field;
    }
    text += j.dump();
    text += '\n';
  }
  write_file_atomically(path, text);
}

}  // namespace everlora

#endif  // EVERLORA_DATA_JSONL_HPP
