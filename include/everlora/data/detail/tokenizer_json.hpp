// everlora — tokenizer internals: reading tokenizer.json's keys with errors that name the file, the
// key path (e.g. "model.merges[3]") and what was found there.
#ifndef EVERLORA_DATA_DETAIL_TOKENIZER_JSON_HPP
#define EVERLORA_DATA_DETAIL_TOKENIZER_JSON_HPP

#include <nlohmann/json.hpp>
#include <string>

#include "everlora/core/error.hpp"

namespace everlora::detail::tok {

using Json = nlohmann::json;

/// Where a value sits: the file (or "<memory>") and the key path inside it.
struct Where {
  std::string source;
  std::string key;

  Where operator/(const std::string& name) const { return {source, key.empty() ? name : key + "." + name}; }
  Where operator[](std::size_t i) const { return {source, key + "[" + std::to_string(i) + "]"}; }

  [[noreturn]] void fail(ErrorKind kind, const std::string& what) const {
    throw Error(kind, source + ": key '" + key + "' " + what);
  }
  [[noreturn]] void fail(const std::string& what) const { fail(ErrorKind::config, what); }
};

/// A short printable form of a JSON value for messages (cut at 80 characters).
inline std::string show(const Json& j) {
  std::string s = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

/// obj[name] when obj is an object holding it and it is not null; else nullptr.
inline const Json* find(const Json& obj, const char* name) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

/// obj[name], which must be present and not null.
inline const Json& require(const Json& obj, const char* name, const Where& at) {
  if (!obj.is_object()) at.fail("is " + show(obj) + ", not an object");
  const Json* v = find(obj, name);
  if (v == nullptr) (at / name).fail("is missing");
  return *v;
}

inline std::string string_at(const Json& obj, const char* name, const Where& at) {
  const Json& v = require(obj, name, at);
  if (!v.is_string()) (at / name).fail("is " + show(v) + ", not a string");
  return v.get<std::string>();
}

inline std::string string_or(const Json& obj, const char* name, const std::string& fallback, const Where& at) {
  const Json* v = find(obj, name);
  if (v == nullptr) return fallback;
  if (!v->is_string()) (at / name).fail("is " + show(*v) + ", not a string");
  return v->get<std::string>();
}

inline bool bool_or(const Json& obj, const char* name, bool fallback, const Where& at) {
  const Json* v = find(obj, name);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) (at / name).fail("is " + show(*v) + ", not true or false");
  return v->get<bool>();
}

inline const Json& array_at(const Json& obj, const char* name, const Where& at) {
  const Json& v = require(obj, name, at);
  if (!v.is_array()) (at / name).fail("is " + show(v) + ", not an array");
  return v;
}

/// A token id: an integer in [0, 2^31).
inline std::int32_t id_of(const Json& v, const Where& at) {
  if (!v.is_number_integer() && !v.is_number_unsigned()) at.fail("is " + show(v) + ", not an integer id");
  const auto id = v.get<std::int64_t>();
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > 0x7fffffffULL) at.fail("is " + show(v) + ", out of the range of ids");
  if (id < 0 || id > 0x7fffffff) at.fail("is " + show(v) + ", out of the range of ids [0, 2^31)");
  return static_cast<std::int32_t>(id);
}

/// The "type" of a component object (normalizer, pre_tokenizer, ...).
inline std::string type_of(const Json& obj, const Where& at) {
  if (!obj.is_object()) at.fail("is " + show(obj) + ", not an object");
  return string_at(obj, "type", at);
}

}  // namespace everlora::detail::tok

#endif  // EVERLORA_DATA_DETAIL_TOKENIZER_JSON_HPP
