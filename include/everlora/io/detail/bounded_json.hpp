// everlora — JSON from files everlora did not write: parsed with a bound on the nesting depth.
// nlohmann's parser is iterative, but dump() (which error messages use to quote values) and
// json::diff recurse once per level, so a hostile file nested 100,000 levels deep would overflow
// the stack; everlora's own files nest a few levels.
#ifndef EVERLORA_IO_DETAIL_BOUNDED_JSON_HPP
#define EVERLORA_IO_DETAIL_BOUNDED_JSON_HPP

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "everlora/core/error.hpp"

namespace everlora::detail {

/// The deepest nesting read from a file.
inline constexpr int kMaxJsonDepth = 64;

/// `text` parsed as JSON; Error(format) "<source>: …" when it is not JSON or nests deeper than
/// kMaxJsonDepth levels.
inline nlohmann::json parse_json_bounded(std::string_view text, const std::string& source) {
  const auto bounded_depth = [&source](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    using E = nlohmann::json::parse_event_t;
    if ((event == E::object_start || event == E::array_start) && depth >= kMaxJsonDepth)
      throw Error(ErrorKind::format, source + ": the JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return true;
  };
  try {
    return nlohmann::json::parse(text, bounded_depth);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::format, source + ": not valid JSON: " + e.what());
  }
}

}  // namespace everlora::detail

#endif  // EVERLORA_IO_DETAIL_BOUNDED_JSON_HPP
