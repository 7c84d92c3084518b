// JSONL task files: round trips, what read_jsonl tolerates (blank lines, CRLF, extra keys), and
// every malformed line as a format error naming the file and line.
#include "everlora/data/jsonl.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <iterator>
#include <string>
#include <vector>

#include "data/data_support.hpp"

using namespace everlora;
using everlora_test::DataTempDir;
using everlora_test::require_data_error;
using everlora_test::write_bytes;

namespace {

/// Requires read_jsonl on a file holding `text` to fail with a format error naming "<file>:<line>"
/// and every fragment.
void require_line_error(const std::string& text, int line,
                        const std::vector<std::string>& fragments) {
  DataTempDir dir;
  const std::string path = dir.file("task.jsonl");
  write_bytes(path, text);
  std::vector<std::string> all = fragments;
  all.push_back(path + ":" + std::to_string(line) + ": ");
  require_data_error([&] { read_jsonl(path); }, ErrorKind::format, all);
}

const std::string kGood = R"({"instruction": "Say it", "input": "x", "output": "y"})";

}  // namespace

TEST_CASE("write_jsonl then read_jsonl gives back every field byte for byte", "[data][jsonl]") {
  DataTempDir dir;
  const std::string path = dir.file("train.jsonl");
  const std::vector<Example> examples = {
      {"Classify the quote.", "Hello, \"world\"\n\ttab \\ slash", "positive"},
      {"Traduis", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\xc3\xa9t\xc3\xa9"},
      {"", "", "only output"}};
  write_jsonl(path, examples);
  const std::vector<Example> back = read_jsonl(path);
  REQUIRE(back.size() == examples.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    CHECK(back[i].instruction == examples[i].instruction);
    CHECK(back[i].input == examples[i].input);
    CHECK(back[i].output == examples[i].output);
  }
  // One object per line, keys in the documented order, UTF-8 kept as is; no temporary left over.
  const std::string text = read_file(path);
  CHECK(text.rfind(R"({"instruction":"Classify the quote.","input":)", 0) == 0);
  CHECK(text.find("caf\xc3\xa9") != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 3);
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);
}

TEST_CASE("read_jsonl skips blank lines, accepts CRLF and ignores extra keys", "[data][jsonl]") {
  DataTempDir dir;
  const std::string path = dir.file("dev.jsonl");
  write_bytes(path, "\n  \t\n" + kGood + "\r\n\r\n" +
                        R"({"id": 7, "instruction": "a", "input": "b", "output": "c"})" + "\n   ");
  const std::vector<Example> examples = read_jsonl(path);
  REQUIRE(examples.size() == 2);
  CHECK(examples[0].output == "y");
  CHECK(examples[1].instruction == "a");
  CHECK(examples[1].input == "b");
  CHECK(examples[1].output == "c");
}

TEST_CASE("read_jsonl names the file and line of invalid JSON and of a line that is not an object",
          "[data][jsonl][errors]") {
  require_line_error(kGood + "\n{\"instruction\": \"a\",\n", 2, {"invalid JSON"});
  require_line_error(kGood + "\n\n[1, 2]\n", 3, {"not a JSON object", "array"});
  require_line_error("\"just a string\"\n", 1, {"not a JSON object", "string"});
}

// Found by tests/fuzz/fuzz_jsonl: nlohmann throws out_of_range (not parse_error) for a number
// beyond double's range, which escaped read_jsonl as a foreign exception.
TEST_CASE("read_jsonl: a number beyond double's range is a format error naming the line",
          "[data][jsonl][errors][fuzz]") {
  require_line_error(" \t\n1e400\t\f", 2, {"invalid JSON", "number overflow", "1e400"});
  require_line_error(kGood + "\n" + R"({"instruction": "a", "input": "b", "output": "c", "n": -1e400})",
                     2, {"invalid JSON", "number overflow"});
}

TEST_CASE("read_jsonl names a missing field and a field that is not a string",
          "[data][jsonl][errors]") {
  require_line_error(R"({"instruction": "a", "output": "c"})", 1, {"missing field \"input\""});
  require_line_error(kGood + "\n" + R"({"instruction": "a", "input": "b"})", 2,
                     {"missing field \"output\""});
  require_line_error(R"({"instruction": 3, "input": "b", "output": "c"})", 1,
                     {"field \"instruction\"", "number", "not a string"});
  require_line_error(R"({"instruction": "a", "input": null, "output": "c"})", 1,
                     {"field \"input\"", "null"});
}

TEST_CASE("read_jsonl refuses an empty output unless told the task is a next_byte one",
          "[data][jsonl][errors]") {
  const std::string text = R"({"instruction": "", "input": "some text", "output": ""})"
                           "\n"
                           R"({"instruction": "", "input": "more", "output": "  "})";
  require_line_error(text, 1, {"empty \"output\""});
  DataTempDir dir;
  write_bytes(dir.file("lm.jsonl"), text);
  const std::vector<Example> examples = read_jsonl(dir.file("lm.jsonl"), false);
  REQUIRE(examples.size() == 2);
  CHECK(examples[0].input == "some text");
  CHECK(examples[1].output == "  ");
}

TEST_CASE("read_jsonl reports invalid UTF-8 with the byte it starts at", "[data][jsonl][errors]") {
  // Byte 18 of line 2 is a lone continuation byte; overlong forms and surrogates fail the same way.
  require_line_error(
      kGood + "\n" + R"({"instruction": ")" + "\x80" + R"(", "input": "", "output": "y"})", 2,
      {"invalid UTF-8 at byte 18", "0x80"});
  require_line_error(
      R"({"instruction": "a", "input": ")" + std::string("\xc0\xaf") + R"(", "output": "y"})", 1,
      {"invalid UTF-8 at byte 32", "0xc0"});
  require_line_error(
      R"({"instruction": "a", "input": ")" + std::string("\xed\xa0\x80") + R"(", "output": "y"})",
      1, {"invalid UTF-8 at byte 32", "0xed"});
  require_line_error(R"({"instruction": "a", "input": "b", "output": "y)" + std::string("\xe2\x82"),
                     1, {"invalid UTF-8 at byte 48", "0xe2"});
}

TEST_CASE("read_jsonl: a missing file is an io error, a file without examples a format error",
          "[data][jsonl][errors]") {
  DataTempDir dir;
  require_data_error([&] { read_jsonl(dir.file("absent.jsonl")); }, ErrorKind::io,
                     {dir.file("absent.jsonl")});
  write_bytes(dir.file("empty.jsonl"), "\n \n\r\n");
  require_data_error([&] { read_jsonl(dir.file("empty.jsonl")); }, ErrorKind::format,
                     {dir.file("empty.jsonl"), "no examples"});
}

TEST_CASE("write_jsonl refuses no examples and text that is not UTF-8, writing nothing",
          "[data][jsonl][errors]") {
  DataTempDir dir;
  const std::string path = dir.file("out.jsonl");
  require_data_error([&] { write_jsonl(path, {}); }, ErrorKind::value, {path, "no examples"});
  require_data_error(
      [&] {
        write_jsonl(path, {{"a", "b", "c"}, {"a", "\xff", "c"}});
      },
      ErrorKind::value, {path, "example 1", "\"input\"", "not valid UTF-8"});
  CHECK_FALSE(std::filesystem::exists(path));
}
