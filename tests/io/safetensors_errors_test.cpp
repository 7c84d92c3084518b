// Malformed safetensors files: each broken rule is a clean Error(format) naming the file and the
// tensor (or the metadata key), never a crash. The rules are the reference implementation's.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "everlora/io/safetensors.hpp"
#include "io/io_support.hpp"

using namespace everlora;
using everlora_test::le_bytes;
using everlora_test::st_image;
using everlora_test::TempDir;
using everlora_test::zeros;

namespace {

/// One tensor entry of a header: "name":{"dtype":..,"shape":[..],"data_offsets":[b,e]}.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":[" + shape +
         "],\"data_offsets\":[" + offsets + "]}";
}

/// Writes `bytes` to a file and requires load_safetensors<float> to fail with a format error
/// naming the file and every fragment. Loading as double must fail the same way.
void require_format_error(const std::string& bytes, const std::vector<std::string>& fragments) {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  everlora_test::write_plain(path, bytes);
  std::vector<std::string> all = fragments;
  all.push_back(path);
  everlora_test::require_error([&] { load_safetensors<float>(path); }, ErrorKind::format, all);
  everlora_test::require_error([&] { load_safetensors<double>(path); }, ErrorKind::format, all);
}

}  // namespace

TEST_CASE("A file shorter than the 8-byte header length is a format error",
          "[io][safetensors][errors]") {
  require_format_error("", {"too short"});
  require_format_error("abc", {"3 bytes", "too short"});
}

TEST_CASE("A header length past the end of the file is a format error",
          "[io][safetensors][errors]") {
  require_format_error(le_bytes(1000, 8) + "{}", {"header length 1000", "runs past the end"});
  require_format_error(le_bytes(~0ULL, 8) + "{}", {"exceeds the limit"});  // no overflow
  require_format_error(le_bytes(100000001, 8) + "{}",
                       {"header length 100000001", "exceeds the limit"});
}

TEST_CASE("A truncated data buffer names the tensor that runs past the end",
          "[io][safetensors][errors]") {
  StateDict<float> sd;
  sd.emplace("a.weight", Tensor<float>::ones({4}));
  sd.emplace("b.weight", Tensor<float>::ones({8}));
  const std::string good = to_safetensors_bytes(sd);
  require_format_error(good.substr(0, good.size() - 3),
                       {"b.weight", "run past the end", "truncated"});
  // Cut inside the header: the header length now runs past the end.
  require_format_error(good.substr(0, 20), {"runs past the end"});
}

TEST_CASE("Bytes after the last tensor are a format error", "[io][safetensors][errors]") {
  require_format_error(st_image("{" + entry("w", "F32", "2", "0,8") + "}", zeros(8) + "extra"),
                       {"cover 8 bytes", "13", "trailing"});
}

TEST_CASE("A header that is not UTF-8 or not JSON or not an object is a format error",
          "[io][safetensors][errors]") {
  require_format_error(st_image("{\"w\xff\":1}", ""), {"not valid UTF-8"});
  require_format_error(st_image("{", ""), {"not valid JSON"});
  // Padding must be JSON whitespace: NUL bytes are not (the reference rejects them too).
  require_format_error(le_bytes(8, 8) + std::string("{}\0\0\0\0\0\0", 8), {"not valid JSON"});
  require_format_error(st_image("\xEF\xBB\xBF{}", ""), {"not valid JSON", "byte-order mark"});
  require_format_error(st_image("{} {}", ""), {"not valid JSON"});
  require_format_error(st_image("[]", ""), {"must be a JSON object", "array"});
  require_format_error(st_image("\"text\"", ""), {"must be a JSON object", "string"});
}

TEST_CASE("Overlapping offsets name the tensor", "[io][safetensors][errors]") {
  require_format_error(
      st_image("{" + entry("a", "F32", "2", "0,8") + "," + entry("b", "F32", "2", "4,12") + "}",
               zeros(12)),
      {"tensor 'b'", "[4, 12]", "overlap", "'a'"});
}

TEST_CASE("Gaps and a non-zero start and reversed offsets name the tensor",
          "[io][safetensors][errors]") {
  require_format_error(
      st_image("{" + entry("a", "F32", "2", "0,8") + "," + entry("b", "F32", "2", "12,20") + "}",
               zeros(20)),
      {"tensor 'b'", "gap", "'a'"});
  require_format_error(st_image("{" + entry("a", "F32", "2", "4,12") + "}", zeros(12)),
                       {"tensor 'a'", "do not start at 0"});
  require_format_error(st_image("{" + entry("a", "F32", "0", "8,0") + "}", zeros(8)),
                       {"tensor 'a'", "end before they begin"});
}

TEST_CASE("Offsets past the end of the data buffer name the tensor", "[io][safetensors][errors]") {
  require_format_error(st_image("{" + entry("big", "F32", "4", "0,16") + "}", zeros(8)),
                       {"tensor 'big'", "[0, 16]", "run past the end", "8-byte"});
  require_format_error(st_image("{" + entry("huge", "U8", "1000000", "0,1000000") + "}", zeros(8)),
                       {"tensor 'huge'", "run past the end"});
}

TEST_CASE("A byte count that does not match shape and dtype names the tensor",
          "[io][safetensors][errors]") {
  require_format_error(st_image("{" + entry("w", "F32", "2,2", "0,8") + "}", zeros(8)),
                       {"tensor 'w'", "hold 8 bytes", "4 elements of F32 take 16"});
  require_format_error(st_image("{" + entry("h", "F16", "3", "0,4") + "}", zeros(4)),
                       {"tensor 'h'", "take 6"});
  require_format_error(st_image("{" + entry("q", "F4", "3", "0,1") + "}", zeros(1)),
                       {"tensor 'q'", "whole number of bytes"});
}

TEST_CASE("Shape products that overflow 64 bits are format errors", "[io][safetensors][errors]") {
  // The reference's own overflow cases (tensor.rs, test_validation_overflow).
  require_format_error(
      st_image("{" + entry("test", "I32", "2,18446744073709551614", "0,16") + "}", zeros(16)),
      {"tensor 'test'", "overflows"});
  require_format_error(
      st_image("{" + entry("test", "I32", "2,9223372036854775807", "0,16") + "}", zeros(16)),
      {"tensor 'test'", "overflows"});
}

TEST_CASE("An unknown dtype names the tensor and the dtype", "[io][safetensors][errors]") {
  require_format_error(st_image("{" + entry("w", "F128", "1", "0,16") + "}", zeros(16)),
                       {"tensor 'w'", "unknown dtype 'F128'"});
}

TEST_CASE("Dtypes everlora does not convert name the tensor and the dtype",
          "[io][safetensors][errors]") {
  for (const char* dtype : {"I64", "I32", "U8", "BOOL", "F8_E4M3"}) {
    const int size = std::string(dtype) == "I64" ? 8 : std::string(dtype) == "I32" ? 4 : 1;
    const std::string end = std::to_string(2 * size);
    require_format_error(
        st_image("{" + entry("ids", dtype, "2", "0," + end) + "}", zeros(2 * size)),
        {"tensor 'ids'", std::string("dtype ") + dtype, "not supported"});
  }
}

TEST_CASE("Duplicate names and duplicate fields are format errors", "[io][safetensors][errors]") {
  require_format_error(
      st_image("{" + entry("w", "F32", "1", "0,4") + "," + entry("w", "F32", "1", "4,8") + "}",
               zeros(8)),
      {"tensor 'w'", "twice"});
  require_format_error(
      st_image("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}",
               zeros(4)),
      {"tensor 'w'", "'dtype' appears twice"});
  require_format_error(st_image("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", ""),
                       {"'__metadata__'", "'k' appears twice"});
}

TEST_CASE("Metadata values must be strings", "[io][safetensors][errors]") {
  require_format_error(st_image("{\"__metadata__\":{\"epoch\":3}}", ""),
                       {"'__metadata__' value of 'epoch'", "must be a string"});
  require_format_error(st_image("{\"__metadata__\":[\"x\"]}", ""), {"'__metadata__'", "object"});
  // null means "no metadata" to the reference.
  CHECK(from_safetensors_bytes<float>(st_image("{\"__metadata__\":null}", "")).metadata.empty());
}

TEST_CASE("Malformed tensor entries name the tensor and the field", "[io][safetensors][errors]") {
  require_format_error(st_image("{\"w\":[1,2]}", ""), {"tensor 'w'", "must be a JSON object"});
  require_format_error(st_image("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", zeros(4)),
                       {"tensor 'w'", "no 'shape'"});
  require_format_error(st_image("{" + entry("w", "F32", "-1", "0,4") + "}", zeros(4)),
                       {"tensor 'w'", "'shape'", "negative"});
  require_format_error(st_image("{" + entry("w", "F32", "1.5", "0,4") + "}", zeros(4)),
                       {"tensor 'w'", "'shape'", "non-integer"});
  require_format_error(st_image("{" + entry("w", "F32", "1", "0") + "}", zeros(4)),
                       {"tensor 'w'", "'data_offsets' must be an array [begin, end]"});
  require_format_error(st_image("{" + entry("w", "F32", "1", "0,4.0") + "}", zeros(4)),
                       {"tensor 'w'", "'data_offsets'"});
  require_format_error(
      st_image("{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", zeros(4)),
      {"tensor 'w'", "'dtype' must be a string"});
  require_format_error(st_image("{" + entry("w", "F32", "[1]", "0,4") + "}", zeros(4)),
                       {"tensor 'w'", "nests deeper"});
}

TEST_CASE("A rank above everlora's maximum names the tensor", "[io][safetensors][errors]") {
  require_format_error(st_image("{" + entry("r5", "F32", "1,1,1,1,2", "0,8") + "}", zeros(8)),
                       {"tensor 'r5'", "rank 5", "maximum rank 4"});
}

// Found while writing tests/fuzz/fuzz_safetensors (which then reproduced it under UBSan): a zero
// dimension makes the byte count 0 whatever the others are, but 2^32 * 2^31 overflowed
// Shape::numel's signed product.
TEST_CASE("A zero-size tensor whose other dimensions overflow everlora's index is a format error",
          "[io][safetensors][errors][fuzz]") {
  require_format_error(
      st_image(R"({"z":{"dtype":"F32","shape":[4294967296,2147483648,0],"data_offsets":[0,0]}})", ""),
      {"tensor 'z'", "non-zero dimensions", "index range"});
  const auto file = from_safetensors_bytes<float>(
      st_image("{" + entry("z", "F32", "0,4294967296,2147483647", "0,0") + "}", ""));
  CHECK(file.tensors.at("z").shape() == Shape{0, 4294967296, 2147483647});
}

TEST_CASE("Reading a missing file is an io error naming it", "[io][safetensors][errors]") {
  TempDir dir;
  const std::string path = dir.file("absent.safetensors");
  everlora_test::require_error([&] { load_safetensors<float>(path); }, ErrorKind::io,
                               {path, "No such file or directory"});
}

TEST_CASE("The writer rejects names and values the format cannot carry",
          "[io][safetensors][errors]") {
  StateDict<float> sd;
  sd.emplace("__metadata__", Tensor<float>::ones({1}));
  everlora_test::require_error([&] { to_safetensors_bytes(sd); }, ErrorKind::value, {"reserved"});
  StateDict<float> bad_name;
  bad_name.emplace("w\xff", Tensor<float>::ones({1}));
  everlora_test::require_error([&] { to_safetensors_bytes(bad_name); }, ErrorKind::value,
                               {"not valid UTF-8"});
  StateDict<float> undefined;
  undefined.emplace("w", Tensor<float>());
  TempDir dir;
  const std::string path = dir.file("never.safetensors");
  everlora_test::require_error([&] { save_safetensors(path, undefined); }, ErrorKind::value,
                               {path, "'w'", "undefined"});
  CHECK(dir.entries().empty());  // nothing was created
  everlora_test::require_error(
      [&] {
        to_safetensors_bytes(StateDict<float>{}, {{"k", "\xc0\xaf"}});
      },  // overlong '/'
      ErrorKind::value, {"metadata entry 'k'", "not valid UTF-8"});
}

TEST_CASE("Random corruption of a valid file gives a clean error or a valid result",
          "[io][safetensors][errors]") {
  Rng rng(2024);
  StateDict<float> sd;
  sd.emplace("a.weight", Tensor<float>::normal({3, 4}, rng, 0.0f, 1.0f));
  sd.emplace("b.bias", Tensor<float>::normal({4}, rng, 0.0f, 1.0f));
  sd.emplace("c", Tensor<float>::scalar(1.0f));
  const std::string good = to_safetensors_bytes(sd, {{"format", "pt"}});
  const std::size_t header_end = 8 + static_cast<std::size_t>(static_cast<unsigned char>(good[0]));
  std::mt19937_64 gen(7);  // the engine's output is specified; only raw draws are used
  std::size_t errors = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bad = good;
    switch (trial % 4) {
      case 0:  // flip a byte in the length or the header
        bad[gen() % header_end] = static_cast<char>(gen());
        break;
      case 1:  // set a header byte to a JSON-significant character
        bad[8 + gen() % (header_end - 8)] = "{}[],:\"0123456789-. e"[gen() % 21];
        break;
      case 2:  // truncate
        bad.resize(gen() % good.size());
        break;
      default:  // append bytes
        bad += std::string(1 + gen() % 9, static_cast<char>(gen()));
        break;
    }
    try {
      const auto file = from_safetensors_bytes<double>(bad, "fuzz");
      for (const auto& [name, t] : file.tensors) CHECK(t.numel() >= 0);
    } catch (const Error& e) {
      ++errors;
      CHECK(e.kind() == ErrorKind::format);
      CHECK_THAT(e.what(), Catch::Contains("'fuzz'"));
    }
  }
  CHECK(errors > 2000);
}
