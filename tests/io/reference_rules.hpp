// everlora tests — an independent checker of what the reference safetensors implementation
// (huggingface/safetensors: serialize, read_metadata, Metadata::validate) requires of a file and
// how its writer lays one out. Written from those rules with nlohmann::ordered_json; it shares no
// code with everlora's reader, so a file that passes here was not judged by the code under test.
#ifndef EVERLORA_TESTS_IO_REFERENCE_RULES_HPP
#define EVERLORA_TESTS_IO_REFERENCE_RULES_HPP

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace everlora_test {

/// Every rule `file` breaks (empty if it is a file the reference writes and reads back).
inline std::vector<std::string> reference_rule_violations(const std::string& file) {
  std::vector<std::string> bad;
  // Element sizes in bits; the position in the list is the reference's Dtype order (alignment).
  const std::vector<std::pair<std::string, int>> dtypes = {
      {"BOOL", 8},        {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},
      {"I8", 8},          {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8},
      {"F8_E5M2FNUZ", 8}, {"I16", 16},    {"U16", 16},    {"F16", 16},    {"BF16", 16},
      {"I32", 32},        {"U32", 32},    {"F32", 32},    {"C64", 64},    {"F64", 64},
      {"I64", 64},        {"U64", 64}};
  const auto dtype_rank = [&](const std::string& d) {
    for (std::size_t i = 0; i < dtypes.size(); ++i)
      if (dtypes[i].first == d) return static_cast<int>(i);
    return -1;
  };

  if (file.size() < 8) return {"shorter than 8 bytes"};
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | static_cast<unsigned char>(file[static_cast<std::size_t>(i)]);
  if (n > 100000000) return {"header longer than 100,000,000 bytes"};
  if (n > file.size() - 8) return {"header runs past the end of the file"};
  if (n % 8 != 0) bad.push_back("header length is not a multiple of 8");
  std::string text = file.substr(8, n);
  if (text.empty() || text[0] != '{') bad.push_back("header does not start with '{'");
  while (!text.empty() && text.back() == ' ') text.pop_back();  // the writer pads with spaces only
  nlohmann::ordered_json header;
  try {
    header = nlohmann::ordered_json::parse(text);
  } catch (const std::exception& e) {
    return {std::string("header is not JSON: ") + e.what()};
  }
  if (!header.is_object()) return {"header is not an object"};
  if (header.dump() != text) bad.push_back("header is not compact JSON");

  const std::uint64_t data_size = file.size() - 8 - n;
  std::uint64_t expected_begin = 0;
  bool first_key = true;
  int last_rank = 1 << 30;
  std::string last_name;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!first_key) bad.push_back("__metadata__ is not the first key");
      if (!value.is_object())
        bad.push_back("__metadata__ is not an object");
      else
        for (const auto& [k, v] : value.items())
          if (!v.is_string()) bad.push_back("__metadata__ value of " + k + " is not a string");
      first_key = false;
      continue;
    }
    first_key = false;
    const std::string where = "tensor " + key + ": ";
    if (!value.is_object() || value.size() != 3 || !value.contains("dtype") ||
        !value.contains("shape") || !value.contains("data_offsets")) {
      bad.push_back(where + "entry is not {dtype, shape, data_offsets}");
      continue;
    }
    // serde writes the fields in declaration order.
    auto it = value.begin();
    if (it.key() != "dtype" || (++it).key() != "shape" || (++it).key() != "data_offsets")
      bad.push_back(where + "fields are not in the order dtype, shape, data_offsets");
    const int rank =
        value["dtype"].is_string() ? dtype_rank(value["dtype"].get<std::string>()) : -1;
    if (rank < 0) {
      bad.push_back(where + "unknown dtype");
      continue;
    }
    // The writer orders by dtype alignment (largest first), then by name, and lays data out so.
    if (rank > last_rank || (rank == last_rank && key <= last_name))
      bad.push_back(where + "not in the writer's order (dtype alignment, then name)");
    last_rank = rank;
    last_name = key;
    std::uint64_t numel = 1;
    for (const auto& d : value["shape"]) {
      if (!d.is_number_unsigned())
        bad.push_back(where + "dimension is not a non-negative integer");
      else
        numel *= d.get<std::uint64_t>();
    }
    const auto& off = value["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned()) {
      bad.push_back(where + "data_offsets is not [begin, end]");
      continue;
    }
    const std::uint64_t b = off[0].get<std::uint64_t>(), e = off[1].get<std::uint64_t>();
    if (b != expected_begin) bad.push_back(where + "data does not start where the previous ended");
    if (e < b ||
        e - b !=
            numel * static_cast<std::uint64_t>(dtypes[static_cast<std::size_t>(rank)].second) / 8)
      bad.push_back(where + "byte length is not numel x dtype size");
    expected_begin = e;
  }
  if (expected_begin != data_size)
    bad.push_back("tensors do not end exactly at the end of the file");
  return bad;
}

}  // namespace everlora_test

#endif  // EVERLORA_TESTS_IO_REFERENCE_RULES_HPP
