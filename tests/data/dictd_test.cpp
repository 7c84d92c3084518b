// dictd dictionaries: base64 numbers, a hand-made index + gzip'd dictionary read back entry by
// entry, every malformed index line as a format error naming file:line, missing files naming the
// Debian package, and the real Jargon File from dict-jargon.
#include "everlora/data/dictd.hpp"

#include <zlib.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "data/data_support.hpp"

using namespace everlora;
using everlora_test::DataTempDir;
using everlora_test::require_data_error;
using everlora_test::write_bytes;

namespace {

/// `value` in dictd's base64 digits (the inverse of decode_dictd_number).
std::string encode_number(std::uint64_t value) {
  const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  do {
    out.insert(out.begin(), digits[value % 64]);
    value /= 64;
  } while (value > 0);
  return out;
}

/// Writes `bytes` gzip-compressed to `path`.
void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  REQUIRE(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  REQUIRE(gzclose(file) == Z_OK);
}

/// A three-entry dictionary (plus a 00databaseinfo entry) in `dir`: name.index and name.dict.dz.
struct TinyDictionary {
  std::string index, dict;
  std::vector<DictEntry> expected;
  explicit TinyDictionary(const DataTempDir& dir, const std::string& name = "tiny") {
    index = dir.file(name + ".index");
    dict = dir.file(name + ".dict.dz");
    const std::string info = "This is a tiny dictionary.\n";
    const std::string alpha = "alpha\n n.\n\n    The first letter. See {beta}.\n\n";
    const std::string beta = "beta\n\n    [Greek] The second letter, \xce\xb2.\n\n";
    std::string text = info + alpha + beta;
    std::string lines;
    auto line = [&](const std::string& head, std::size_t offset, std::size_t length) {
      lines += head + "\t" + encode_number(offset) + "\t" + encode_number(length) + "\n";
    };
    line("00databaseinfo", 0, info.size());
    line("alpha", info.size(), alpha.size());
    line("beta", info.size() + alpha.size(), beta.size());
    line("b", info.size() + alpha.size(), beta.size());  // an alias: same text
    write_bytes(index, lines);
    write_gzip(dict, text);
    expected = {{"alpha", alpha}, {"beta", beta}, {"b", beta}};
  }
};

}  // namespace

TEST_CASE("dictd numbers decode from base64 digits, most significant first", "[data][dictd]") {
  CHECK(decode_dictd_number("A") == 0);
  CHECK(decode_dictd_number("B") == 1);
  CHECK(decode_dictd_number("a") == 26);
  CHECK(decode_dictd_number("0") == 52);
  CHECK(decode_dictd_number("+") == 62);
  CHECK(decode_dictd_number("/") == 63);
  CHECK(decode_dictd_number("BA") == 64);
  CHECK(decode_dictd_number("BdqM") == 383628);  // devil.index: 00databasealphabet's offset
  CHECK(decode_dictd_number("//////////") == (std::uint64_t(1) << 60) - 1);
  for (const std::uint64_t v : {0ull, 63ull, 64ull, 4095ull, 4096ull, 5578809ull, 123456789012ull})
    CHECK(decode_dictd_number(encode_number(v)) == v);
  require_data_error([] { decode_dictd_number("A*"); }, ErrorKind::format, {"'*'", "base64"});
  require_data_error([] { decode_dictd_number(""); }, ErrorKind::format, {"empty"});
  require_data_error([] { decode_dictd_number("AAAAAAAAAAA"); }, ErrorKind::format,
                     {"too many digits"});
}

TEST_CASE("dictd reads a gzip'd dictionary entry by entry, without 00database entries",
          "[data][dictd]") {
  DataTempDir dir;
  const TinyDictionary tiny(dir);
  const auto entries = read_dictd(tiny.index, tiny.dict);
  REQUIRE(entries.size() == tiny.expected.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    CHECK(entries[i].headword == tiny.expected[i].headword);
    CHECK(entries[i].definition == tiny.expected[i].definition);
  }
  // read_dictionary finds the same files by name; a plain .dict works as well.
  const auto by_name = read_dictionary("tiny", dir.path());
  REQUIRE(by_name.size() == 3);
  CHECK(by_name[1].definition == tiny.expected[1].definition);
  const std::string plain_text = "one\n\n    Uno.\n";
  write_bytes(dir.file("plain.dict"), plain_text);
  write_bytes(dir.file("plain.index"), "one\tA\t" + encode_number(plain_text.size()) + "\n");
  const auto plain = read_dictionary("plain", dir.path());
  REQUIRE(plain.size() == 1);
  CHECK(plain[0].definition == plain_text);
}

TEST_CASE("dictd names file:line of a malformed index line", "[data][dictd][errors]") {
  DataTempDir dir;
  const TinyDictionary tiny(dir);
  const std::string good = "alpha\tA\tB\n";
  const auto bad_line = [&](const std::string& line, const std::vector<std::string>& fragments) {
    write_bytes(tiny.index, good + good + line + "\n" + good);
    std::vector<std::string> all = fragments;
    all.push_back(tiny.index + ":3: ");
    require_data_error([&] { read_dictd(tiny.index, tiny.dict); }, ErrorKind::format, all);
  };
  bad_line("gamma\tA", {"headword<TAB>offset<TAB>length", "gamma"});
  bad_line("gamma A B", {"headword<TAB>offset<TAB>length"});
  bad_line("gamma\tA*\tB", {"bad offset", "'*'"});
  bad_line("gamma\tA\t", {"bad length", "empty"});
  bad_line("gamma\tA\t//", {"'gamma'", "points past the end", tiny.dict});
  bad_line("gamma\t//\tA", {"'gamma'", "points past the end"});
}

TEST_CASE("dictd: a missing file names it and the Debian package, bad gzip is a format error",
          "[data][dictd][errors]") {
  DataTempDir dir;
  require_data_error([&] { read_dictd(dir.file("jargon.index"), dir.file("jargon.dict.dz")); },
                     ErrorKind::io, {dir.file("jargon.index"), "dict-jargon", "apt-get install"});
  require_data_error([&] { read_dictionary("devil", dir.path()); }, ErrorKind::io,
                     {"devil.index", "'dict-devil'"});
  const TinyDictionary tiny(dir);
  require_data_error([&] { read_dictd(tiny.index, dir.file("none.dict.dz"), "my-package"); },
                     ErrorKind::io, {"none.dict.dz", "my-package"});
  // A gzip header followed by garbage: zlib reports a data error.
  write_bytes(tiny.dict, std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage-garbage", 22));
  require_data_error([&] { read_dictd(tiny.index, tiny.dict); }, ErrorKind::format,
                     {tiny.dict, "gzip"});
}

TEST_CASE("dictd loads the real Jargon File from dict-jargon", "[data][dictd][corpus]") {
  const auto entries = read_dictionary("jargon");
  CHECK(entries.size() > 1000);
  bool found = false;
  for (const auto& e : entries) {
    CHECK(e.headword.rfind("00database", 0) != 0);
    CHECK_FALSE(e.definition.empty());
    if (e.headword == "hacker") {
      found = true;
      CHECK(e.definition.find("hacker") != std::string::npos);
    }
  }
  CHECK(found);
}
