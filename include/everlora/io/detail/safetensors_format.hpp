// everlora — the safetensors format below the tensor level: dtypes, little-endian, half and
// bfloat16 decoding, UTF-8 checks, and the header parser that enforces the reference
// implementation's rules (huggingface/safetensors, tensor.rs: read_metadata and
// Metadata::validate). Internal to io/safetensors.hpp.
// @sa docs/formats.md
#ifndef EVERLORA_IO_DETAIL_SAFETENSORS_FORMAT_HPP
#define EVERLORA_IO_DETAIL_SAFETENSORS_FORMAT_HPP

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "everlora/core/detail/bf16.hpp"
#include "everlora/core/error.hpp"

namespace everlora {

/// The `__metadata__` of a safetensors file: string → string.
using SafetensorsMetadata = std::map<std::string, std::string>;

namespace detail {

/// The reference's header size limit (MAX_HEADER_SIZE): longer headers are rejected.
constexpr std::uint64_t kSafetensorsMaxHeader = 100000000;

/// One dtype of the format and its element size in bits (sub-byte ones exist: F4, F6_*).
struct SafetensorsDtype {
  const char* name;
  unsigned bits;
};

/// Every dtype the reference defines (its `Dtype` enum), so that structurally valid files with
/// dtypes everlora does not convert still validate and then get a precise error.
inline constexpr SafetensorsDtype kSafetensorsDtypes[] = {
    {"BOOL", 8},    {"U8", 8},          {"I8", 8},          {"F8_E5M2", 8}, {"F8_E4M3", 8},
    {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8}, {"I16", 16},    {"U16", 16},
    {"F16", 16},    {"BF16", 16},       {"I32", 32},        {"U32", 32},    {"F32", 32},
    {"C64", 64},    {"F64", 64},        {"I64", 64},        {"U64", 64},    {"F4", 4},
    {"F6_E2M3", 6}, {"F6_E3M2", 6},
};

/// The size in bits of the dtype called `name`, or 0 if the format does not define it.
inline unsigned safetensors_dtype_bits(std::string_view name) {
  for (const auto& d : kSafetensorsDtypes)
    if (name == d.name) return d.bits;
  return 0;
}

// ---- scalars ------------------------------------------------------------------------------------

inline std::uint16_t load_le16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t load_le32(const unsigned char* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
         std::uint32_t(p[3]) << 24;
}
inline std::uint64_t load_le64(const unsigned char* p) {
  return std::uint64_t(load_le32(p)) | std::uint64_t(load_le32(p + 4)) << 32;
}
inline void store_le(unsigned char* p, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<unsigned char>(value >> (8 * i));
}

inline double double_from_bits(std::uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

/// IEEE binary16 → float, exactly (every half is a float). Subnormals are normalised, ±inf
/// stays ±inf, and NaN stays NaN (sign and payload kept, made quiet).
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1Fu;
  std::uint32_t mant = h & 0x3FFu;
  if (exp == 0x1F) return float_from_bits(sign | 0x7F800000u | (mant ? 0x400000u | mant << 13 : 0));
  if (exp == 0) {
    if (mant == 0) return float_from_bits(sign);  // ±0
    // Subnormal: mant·2^-24. Shift the leading 1 up to the implicit bit, one exponent step each.
    exp = 113;  // 127 - 15 + 1
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --exp;
    }
    mant &= 0x3FFu;
    return float_from_bits(sign | exp << 23 | mant << 13);
  }
  return float_from_bits(sign | (exp + 112) << 23 | mant << 13);  // rebias 15 → 127
}

/// float → IEEE binary16, rounded to nearest-even; past the range ±inf, below it subnormals or ±0.
inline std::uint16_t float_to_half(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  const std::uint16_t sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t exp = (bits >> 23) & 0xFFu, mant = bits & 0x7FFFFFu;
  if (exp == 0xFF) return static_cast<std::uint16_t>(sign | 0x7C00u | (mant ? 0x200u | (mant >> 13) : 0));
  const int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 0x1F) return static_cast<std::uint16_t>(sign | 0x7C00u);
  if (e <= 0) {  // subnormal or zero: shift the mantissa (with its implicit 1) into place
    if (e < -10) return sign;
    const std::uint32_t m = mant | 0x800000u;
    const int shift = 14 - e;
    std::uint32_t half = m >> shift;
    const std::uint32_t rest = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
    return static_cast<std::uint16_t>(sign | half);
  }
  std::uint32_t half = static_cast<std::uint32_t>(e) << 10 | (mant >> 13);
  const std::uint32_t rest = mant & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // may carry into the exponent: still right
  return static_cast<std::uint16_t>(sign | half);
}

/// double → float rounded to nearest-even, with finite values beyond the float range going to
/// ±inf or ±FLT_MAX exactly as IEEE rounding does (a plain cast of those is undefined in C++).
inline float narrow_to_float(double d) {
  constexpr double kMax = static_cast<double>(std::numeric_limits<float>::max());
  const double mag = d < 0 ? -d : d;
  if (mag > kMax && mag <= std::numeric_limits<double>::max()) {
    const double halfway = kMax + 0x1p103;  // FLT_MAX + ulp(FLT_MAX)/2: rounds to even (= inf)
    const float r =
        mag >= halfway ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::max();
    return d < 0 ? -r : r;
  }
  return static_cast<float>(d);
}

// ---- text ---------------------------------------------------------------------------------------

/// True if `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
inline bool is_valid_utf8(std::string_view s) {
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
    if (len == 0) return false;
    std::uint32_t cp = c & (0x7Fu >> len);
    const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

/// `s` as a JSON string literal (quotes and escapes), as the header writer needs it.
inline std::string json_quote(const std::string& s) { return nlohmann::json(s).dump(); }

/// a·b, or false if it overflows 64 bits.
inline bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return false;
  out = a * b;
  return true;
}

// ---- the header ---------------------------------------------------------------------------------

/// One tensor of a validated header. Offsets are relative to the data buffer after the header.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;
  unsigned bits = 0;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0, end = 0;
};

/// A validated header: the tensors in data-buffer order, the metadata, where the data begins.
struct SafetensorsLayout {
  std::vector<SafetensorsEntry> entries;
  SafetensorsMetadata metadata;
  std::size_t data_begin = 0;
};

[[noreturn]] inline void safetensors_error(const std::string& source, const std::string& what) {
  throw Error(ErrorKind::format, "safetensors '" + source + "': " + what);
}
[[noreturn]] inline void safetensors_error(const std::string& source, const std::string& tensor,
                                           const std::string& what) {
  safetensors_error(source, "tensor '" + tensor + "': " + what);
}

/// The JSON type of `j` in words, for messages.
inline std::string json_kind(const nlohmann::json& j) {
  if (j.is_number_integer() && !j.is_number_unsigned()) return "the negative integer " + j.dump();
  if (j.is_number_float()) return "a non-integer number " + j.dump();
  return std::string("a JSON ") + j.type_name();
}

/// A non-negative JSON integer as u64, or an error naming the tensor and the field.
inline std::uint64_t json_u64(const nlohmann::json& j, const std::string& source,
                              const std::string& tensor, const char* field) {
  if (j.is_number_unsigned()) return j.get<std::uint64_t>();
  if (j.is_number_integer() && j.get<std::int64_t>() >= 0)
    return static_cast<std::uint64_t>(j.get<std::int64_t>());
  safetensors_error(
      source, tensor,
      std::string("'") + field + "' must hold non-negative integers, not " + json_kind(j));
}

/// Parses the header JSON. Rejects, naming the key: duplicate keys (the DOM would silently keep
/// one) and nesting deeper than a header has (bounds the work done on hostile input).
inline nlohmann::json parse_safetensors_json(std::string_view text, const std::string& source) {
  std::vector<std::set<std::string>> seen(3);  // keys of the root, and of the current entry
  std::string entry;                           // the root key being parsed
  const auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& j) {
    using E = nlohmann::json::parse_event_t;
    if ((event == E::object_start || event == E::array_start) && depth >= 3)
      safetensors_error(source, entry, "the header nests deeper than a safetensors entry can");
    if (event == E::object_start && depth == 1) seen[2].clear();
    if (event == E::key && (depth == 1 || depth == 2)) {
      const std::string& key = j.get_ref<const std::string&>();
      if (depth == 1) entry = key;
      if (!seen[static_cast<std::size_t>(depth)].insert(key).second) {
        if (depth == 1) safetensors_error(source, key, "the name appears twice in the header");
        safetensors_error(source, entry, "key '" + key + "' appears twice");
      }
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), callback);
  } catch (const nlohmann::json::exception& e) {
    safetensors_error(source, std::string("the header is not valid JSON: ") + e.what());
  }
}

/// Reads one tensor entry of the header, checking every field's type.
inline SafetensorsEntry parse_safetensors_entry(const std::string& name, const nlohmann::json& v,
                                                const std::string& source) {
  if (!v.is_object())
    safetensors_error(source, name, "the entry must be a JSON object, not " + json_kind(v));
  SafetensorsEntry e;
  e.name = name;
  const auto field = [&](const char* key) -> const nlohmann::json& {
    const auto it = v.find(key);
    if (it == v.end())
      safetensors_error(source, name, std::string("the entry has no '") + key + "'");
    return *it;
  };
  const nlohmann::json& dtype = field("dtype");
  if (!dtype.is_string())
    safetensors_error(source, name, "'dtype' must be a string, not " + json_kind(dtype));
  e.dtype = dtype.get<std::string>();
  e.bits = safetensors_dtype_bits(e.dtype);
  if (e.bits == 0) safetensors_error(source, name, "unknown dtype '" + e.dtype + "'");
  const nlohmann::json& shape = field("shape");
  if (!shape.is_array())
    safetensors_error(source, name, "'shape' must be an array, not " + json_kind(shape));
  for (const auto& d : shape) e.shape.push_back(json_u64(d, source, name, "shape"));
  const nlohmann::json& offsets = field("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2)
    safetensors_error(
        source, name,
        "'data_offsets' must be an array [begin, end], not " +
            (offsets.is_array() ? "an array of " + std::to_string(offsets.size()) + " values"
                                : json_kind(offsets)));
  e.begin = json_u64(offsets[0], source, name, "data_offsets");
  e.end = json_u64(offsets[1], source, name, "data_offsets");
  return e;
}

/// Parses and validates the header of the safetensors image `bytes` (the whole file). Every
/// violation is Error(format) naming `source` and, where there is one, the tensor.
inline SafetensorsLayout parse_safetensors_header(std::string_view bytes,
                                                  const std::string& source) {
  const std::uint64_t size = bytes.size();
  if (size < 8)
    safetensors_error(source, "the file is " + std::to_string(size) +
                                  " bytes, too short for the 8-byte header length");
  const auto* raw = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::uint64_t n = load_le64(raw);
  if (n > kSafetensorsMaxHeader)
    safetensors_error(source, "the header length " + std::to_string(n) + " exceeds the limit of " +
                                  std::to_string(kSafetensorsMaxHeader) + " bytes");
  if (n > size - 8)
    safetensors_error(source, "the header length " + std::to_string(n) +
                                  " runs past the end of the " + std::to_string(size) +
                                  "-byte file (truncated?)");
  const std::string_view text = bytes.substr(8, static_cast<std::size_t>(n));
  if (!is_valid_utf8(text)) safetensors_error(source, "the header is not valid UTF-8");
  // nlohmann's parser stops at a NUL byte and skips a byte-order mark; JSON allows neither.
  if (text.find('\0') != std::string_view::npos)
    safetensors_error(source,
                      "the header is not valid JSON: it holds a NUL byte (pad with spaces)");
  if (text.substr(0, 3) == "\xEF\xBB\xBF")
    safetensors_error(source, "the header is not valid JSON: it starts with a byte-order mark");
  const nlohmann::json root = parse_safetensors_json(text, source);
  if (!root.is_object())
    safetensors_error(source, "the header must be a JSON object, not " + json_kind(root));

  SafetensorsLayout layout;
  layout.data_begin = static_cast<std::size_t>(8 + n);
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      if (value.is_null()) continue;  // the reference reads null as "no metadata"
      if (!value.is_object())
        safetensors_error(source,
                          "'__metadata__' must be an object of strings, not " + json_kind(value));
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string())
          safetensors_error(source, "'__metadata__' value of '" + mk + "' must be a string, not " +
                                        json_kind(mv));
        layout.metadata.emplace(mk, mv.get<std::string>());
      }
      continue;
    }
    layout.entries.push_back(parse_safetensors_entry(key, value, source));
  }

  // As the reference: order by offsets, then the tensors must tile [0, data size) exactly, each
  // taking numel × dtype size bytes. Every product is checked for overflow.
  auto& entries = layout.entries;
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  const std::uint64_t data_size = size - 8 - n;
  std::uint64_t expected = 0;
  const std::string* previous = nullptr;
  for (const auto& e : entries) {
    const std::string offsets =
        "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
    if (e.end < e.begin) safetensors_error(source, e.name, offsets + " end before they begin");
    if (e.begin != expected)
      safetensors_error(
          source, e.name,
          offsets +
              (previous == nullptr ? std::string(" do not start at 0")
                                   : (e.begin < expected ? " overlap" : " leave a gap after") +
                                         (" tensor '" + *previous + "', which ends at ") +
                                         std::to_string(expected)) +
              " (the tensors must tile the data buffer from 0, without gaps)");
    std::uint64_t numel = 1, bits = 0;
    for (std::uint64_t d : e.shape)
      if (!checked_mul(numel, d, numel))
        safetensors_error(source, e.name, "the element count of its shape overflows 64 bits");
    if (!checked_mul(numel, e.bits, bits))
      safetensors_error(source, e.name,
                        "its byte size (" + std::to_string(numel) + " elements of " + e.dtype +
                            ") overflows 64 bits");
    if (bits % 8 != 0)
      safetensors_error(source, e.name,
                        std::to_string(numel) + " elements of " + e.dtype +
                            " do not fill a whole number of bytes");
    if (e.end - e.begin != bits / 8)
      safetensors_error(source, e.name,
                        offsets + " hold " + std::to_string(e.end - e.begin) + " bytes but " +
                            std::to_string(numel) + " elements of " + e.dtype + " take " +
                            std::to_string(bits / 8));
    if (e.end > data_size)
      safetensors_error(source, e.name,
                        offsets + " run past the end of the " + std::to_string(data_size) +
                            "-byte data buffer (truncated file?)");
    expected = e.end;
    previous = &e.name;
  }
  if (expected != data_size)
    safetensors_error(source, "the tensors cover " + std::to_string(expected) +
                                  " bytes but the data buffer after the header has " +
                                  std::to_string(data_size) + " (trailing bytes)");
  return layout;
}

}  // namespace detail
}  // namespace everlora

#endif  // EVERLORA_IO_DETAIL_SAFETENSORS_FORMAT_HPP
