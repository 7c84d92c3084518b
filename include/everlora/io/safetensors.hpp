// everlora — safetensors files: write a StateDict (F32 for float, F64 for double), read one back
// converting F32, F64, F16 and BF16 to the scalar asked for, and save/load a Module's parameters.
// Reading enforces the reference implementation's rules; writing is atomic (io/atomic_file.hpp).
//
//   everlora::save_module(model, "model.safetensors", {{"step", "1000"}});
//   everlora::load_module(model, "model.safetensors");  // strict: all parameters, nothing extra
//   auto file = everlora::load_safetensors<float>("lora.safetensors");  // .tensors, .metadata
// @sa docs/formats.md
#ifndef EVERLORA_IO_SAFETENSORS_HPP
#define EVERLORA_IO_SAFETENSORS_HPP

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "everlora/core/error.hpp"
#include "everlora/core/shape.hpp"
#include "everlora/core/state_dict.hpp"
#include "everlora/core/tensor.hpp"
#include "everlora/io/atomic_file.hpp"
#include "everlora/io/detail/safetensors_format.hpp"
#include "everlora/nn/module.hpp"

namespace everlora {

/// The content of a safetensors file, converted to Tensor<T>.
template <class T>
struct SafetensorsFile {
  StateDict<T> tensors;                       ///< name → tensor
  SafetensorsMetadata metadata;               ///< `__metadata__` (empty if absent)
  std::map<std::string, std::string> dtypes;  ///< name → dtype stored in the file ("F16", …)
};

namespace detail {

/// The dtype everlora writes for T.
template <class T>
constexpr const char* safetensors_dtype_of() {
  return std::is_same_v<T, float> ? "F32" : "F64";
}

/// The padded JSON header for `tensors` (name order, contiguous from 0) and `metadata`, laid out
/// as the reference's serialize does: `__metadata__` first (omitted when empty), compact JSON,
/// spaces up to a multiple of 8 bytes so the data buffer starts 8-aligned.
template <class T>
std::string safetensors_header(const StateDict<T>& tensors, const SafetensorsMetadata& metadata,
                               const std::string& api, const std::string& dtype = safetensors_dtype_of<T>()) {
  const std::uint64_t element_bytes = safetensors_dtype_bits(dtype) / 8;
  std::string h = "{";
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    for (const auto& [key, value] : metadata) {
      if (!is_valid_utf8(key) || !is_valid_utf8(value))
        throw Error(ErrorKind::value, api + ": metadata entry '" + key + "' is not valid UTF-8");
      h += (h.back() == '{' ? "" : ",") + json_quote(key) + ":" + json_quote(value);
    }
    h += "}";
  }
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__")
      throw Error(ErrorKind::value, api + ": '__metadata__' is reserved and cannot name a tensor");
    if (!is_valid_utf8(name))
      throw Error(ErrorKind::value, api + ": tensor name '" + name + "' is not valid UTF-8");
    if (!t.defined()) throw Error(ErrorKind::value, api + ": tensor '" + name + "' is undefined");
    const std::uint64_t bytes = static_cast<std::uint64_t>(t.numel()) * element_bytes;
    h += (h.size() == 1 ? "" : ",") + json_quote(name) + ":{\"dtype\":\"" + dtype + "\",\"shape\":[";
    for (int i = 0; i < t.rank(); ++i) h += (i ? "," : "") + std::to_string(t.dim(i));
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) +
         "]}";
    offset += bytes;
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');
  if (h.size() > kSafetensorsMaxHeader)
    throw Error(ErrorKind::value, api + ": the header would be " + std::to_string(h.size()) +
                                      " bytes, over the " + std::to_string(kSafetensorsMaxHeader) +
                                      "-byte limit readers enforce");
  return h;
}

/// Sends a whole safetensors image to `sink(const char*, std::size_t)`: header length, header,
/// then every tensor's values as little-endian bytes of `dtype` (T's own, or F32, F16 or BF16
/// rounded to nearest-even), in name order, in bounded chunks.
template <class T, class Sink>
void write_safetensors(Sink&& sink, const std::string& header, const StateDict<T>& tensors,
                       const std::string& dtype = safetensors_dtype_of<T>()) {
  unsigned char length[8];
  store_le(length, header.size(), 8);
  sink(reinterpret_cast<const char*>(length), sizeof length);
  sink(header.data(), header.size());
  const int width = static_cast<int>(safetensors_dtype_bits(dtype) / 8);
  const bool f64 = dtype == "F64", bf16 = dtype == "BF16", f16 = dtype == "F16";
  auto encode = [f64, bf16, f16](T value) -> std::uint64_t {
    if (f64) {
      const double d = static_cast<double>(value);
      std::uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      return bits;
    }
    const float f = narrow_to_float(static_cast<double>(value));
    if (bf16) return float_to_bfloat16(f);
    if (f16) return float_to_half(f);
    std::uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    return bits;
  };
  constexpr Index kChunk = 8192;
  unsigned char chunk[kChunk * 8];
  T decoded[kChunk];  // the chunk's values of a tensor held in bf16
  for (const auto& [name, t] : tensors) {
    const bool packed = t.held_in_bf16();
    const T* values = packed ? nullptr : t.data();
    for (Index begin = 0; begin < t.numel(); begin += kChunk) {
      const Index count = std::min(kChunk, t.numel() - begin);
      if (packed)
        for (Index i = 0; i < count; ++i) decoded[i] = static_cast<T>(bfloat16_to_float(t.bf16_data()[begin + i]));
      const T* chunk_values = packed ? decoded : values + begin;
      for (Index i = 0; i < count; ++i) store_le(chunk + i * width, encode(chunk_values[i]), width);
      sink(reinterpret_cast<const char*>(chunk), static_cast<std::size_t>(count * width));
    }
  }
}

/// The everlora Shape of a validated entry, or an error if everlora cannot hold it. Besides each
/// dimension, the product of the non-zero ones must fit an Index: a tensor with a zero dimension
/// holds no bytes whatever the others are, but Shape::numel and strides multiply them all.
inline Shape safetensors_shape(const SafetensorsEntry& e, const std::string& source) {
  if (e.shape.size() > static_cast<std::size_t>(Shape::kMaxRank))
    safetensors_error(source, e.name,
                      "rank " + std::to_string(e.shape.size()) +
                          " exceeds everlora's maximum rank " + std::to_string(Shape::kMaxRank));
  constexpr auto kMaxIndex = static_cast<std::uint64_t>(std::numeric_limits<Index>::max());
  Shape shape;
  std::uint64_t nonzero_product = 1;
  for (std::uint64_t d : e.shape) {
    if (d > kMaxIndex)
      safetensors_error(source, e.name, "dimension " + std::to_string(d) + " is too large");
    if (d == 0) {
      shape.push_back(0);
      continue;
    }
    if (nonzero_product > kMaxIndex / d)
      safetensors_error(source, e.name,
                        "the product of its non-zero dimensions exceeds everlora's index range "
                        "(2^63 - 1)");
    nonzero_product *= d;
    shape.push_back(static_cast<Index>(d));
  }
  return shape;
}

/// Decodes `n` little-endian values of dtype `dtype` at `p` into `out`.
template <class T>
void decode_safetensors(const std::string& dtype, const unsigned char* p, Index n, T* out) {
  if (dtype == "F32") {
    for (Index i = 0; i < n; ++i) out[i] = static_cast<T>(float_from_bits(load_le32(p + 4 * i)));
  } else if (dtype == "F64") {
    for (Index i = 0; i < n; ++i) {
      const double d = double_from_bits(load_le64(p + 8 * i));
      if constexpr (std::is_same_v<T, float>)
        out[i] = narrow_to_float(d);
      else
        out[i] = d;
    }
  } else if (dtype == "F16") {
    for (Index i = 0; i < n; ++i) out[i] = static_cast<T>(half_to_float(load_le16(p + 2 * i)));
  } else {  // BF16
    for (Index i = 0; i < n; ++i) out[i] = static_cast<T>(bfloat16_to_float(load_le16(p + 2 * i)));
  }
}

}  // namespace detail

// ---- writing ------------------------------------------------------------------------------------

/// The safetensors image of `tensors` (dtype F32 for float, F64 for double) with `metadata`.
/// Throws Error(value) for an undefined tensor, a name that is not UTF-8 or is "__metadata__".
template <class T>
std::string to_safetensors_bytes(const StateDict<T>& tensors,
                                 const SafetensorsMetadata& metadata = {}) {
  const std::string header = detail::safetensors_header(tensors, metadata, "to_safetensors_bytes");
  std::string out;
  std::size_t size = 8 + header.size();
  for (const auto& [name, t] : tensors) size += static_cast<std::size_t>(t.numel()) * sizeof(T);
  out.reserve(size);
  detail::write_safetensors([&out](const char* p, std::size_t n) { out.append(p, n); }, header,
                            tensors);
  return out;
}

/// Writes `tensors` and `metadata` to `path` as safetensors, atomically (see
/// write_file_atomically): on any error the previous file at `path` is left as it was.
/// `dtype` ("F32", "F64", "F16" or "BF16"; T's own by default) is the stored type.
template <class T>
void save_safetensors(const std::string& path, const StateDict<T>& tensors,
                      const SafetensorsMetadata& metadata = {},
                      const std::string& dtype = detail::safetensors_dtype_of<T>()) {
  if (dtype != "F32" && dtype != "F64" && dtype != "F16" && dtype != "BF16")
    throw Error(ErrorKind::config, "save_safetensors('" + path + "'): dtype '" + dtype +
                                       "' is not one of F32, F64, F16, BF16");
  const std::string header =
      detail::safetensors_header(tensors, metadata, "save_safetensors('" + path + "')", dtype);
  write_file_atomically(path, [&](FileWriter& w) {
    detail::write_safetensors([&w](const char* p, std::size_t n) { w.write(p, n); }, header,
                              tensors, dtype);
  });
}

// ---- reading ------------------------------------------------------------------------------------

/// Parses a safetensors image. F32, F64, F16 and BF16 tensors are converted to T (F64 → float
/// rounds to nearest; the others are exact). Any rule violation, other dtype or rank above 4 is
/// Error(format) naming `source` (used in messages as the file name) and the tensor.
template <class T>
SafetensorsFile<T> from_safetensors_bytes(std::string_view bytes,
                                          const std::string& source = "<memory>") {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "safetensors tensors load as float or double");
  const detail::SafetensorsLayout layout = detail::parse_safetensors_header(bytes, source);
  // Check every tensor before allocating any.
  std::vector<Shape> shapes;
  for (const auto& e : layout.entries) {
    if (e.dtype != "F32" && e.dtype != "F64" && e.dtype != "F16" && e.dtype != "BF16")
      detail::safetensors_error(
          source, e.name,
          "dtype " + e.dtype + " is not supported (everlora reads F32, F64, F16 and BF16)");
    shapes.push_back(detail::safetensors_shape(e, source));
  }
  SafetensorsFile<T> file;
  file.metadata = layout.metadata;
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data()) + layout.data_begin;
  for (std::size_t i = 0; i < layout.entries.size(); ++i) {
    const auto& e = layout.entries[i];
    Tensor<T> t = Tensor<T>::empty(shapes[i]);
    detail::decode_safetensors(e.dtype, data + e.begin, t.numel(), t.numel() ? t.data() : nullptr);
    file.tensors.emplace(e.name, std::move(t));
    file.dtypes.emplace(e.name, e.dtype);
  }
  return file;
}

/// Reads the safetensors file at `path` (Error(io) if it cannot be read; otherwise as
/// from_safetensors_bytes, with messages naming `path`).
template <class T>
SafetensorsFile<T> load_safetensors(const std::string& path) {
  return from_safetensors_bytes<T>(read_file(path), path);
}

// ---- modules ------------------------------------------------------------------------------------

/// Saves every parameter of `module` under its path ("blocks.0.attn.q.weight"), atomically.
/// Adds the metadata "format": "pt" (the layout is PyTorch's, and transformers checks for it)
/// unless `metadata` sets "format".
template <class T>
void save_module(const Module<T>& module, const std::string& path,
                 SafetensorsMetadata metadata = {}) {
  metadata.emplace("format", "pt");
  save_safetensors(path, module.state_dict(), metadata);
}

/// Loads the parameters of `module` from `path`. strict: every parameter must be in the file and
/// every tensor of the file must be a parameter. Shapes must match. Every check runs before any
/// value is copied, so on error the module is unchanged; messages name the file and the tensor.
/// A NaN or infinite value is Error(value).
template <class T>
void load_module(Module<T>& module, const std::string& path, bool strict = true) {
  SafetensorsFile<T> file = load_safetensors<T>(path);
  check_finite(file.tensors, path);
  const std::string where =
      "load_module('" + path + "') into " + std::string(module.type_name()) + ": tensor '";
  std::size_t used = 0;
  for (const auto& [name, p] : module.named_parameters()) {
    const auto it = file.tensors.find(name);
    if (it == file.tensors.end()) {
      if (strict)
        throw Error(ErrorKind::format,
                    where + name + "' (shape " + p.shape().str() + ") is missing from the file");
      continue;
    }
    ++used;
    if (it->second.shape() != p.shape())
      throw Error(ErrorKind::shape, where + name + "' has shape " + it->second.shape().str() +
                                        " in the file but the module expects " + p.shape().str());
  }
  if (strict && used != file.tensors.size()) {
    const auto params = module.state_dict();
    for (const auto& [name, t] : file.tensors)
      if (params.count(name) == 0)
        throw Error(ErrorKind::format,
                    where + name + "' in the file is not a parameter of the module");
  }
  module.load_state_dict(file.tensors, strict);
}

}  // namespace everlora

#endif  // EVERLORA_IO_SAFETENSORS_HPP
