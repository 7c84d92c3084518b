// everlora — the one exception type of the library.
// Every check at a public boundary throws everlora::Error with a kind and a message that names the
// operation and the offending shapes, keys, files or lines.
#ifndef EVERLORA_CORE_ERROR_HPP
#define EVERLORA_CORE_ERROR_HPP

#include <stdexcept>
#include <string>

namespace everlora {

/// What went wrong, so callers can react without parsing messages.
enum class ErrorKind {
  shape,     ///< tensor shapes do not fit an operation
  config,    ///< a configuration value is out of range or inconsistent
  index,     ///< an index (token id, target, axis) is out of range
  autograd,  ///< misuse of the autograd engine (e.g. backward on a non-scalar without a seed)
  value,     ///< a value is invalid (NaN, empty input, division by an empty mask)
  io,        ///< a file could not be opened, read or written
  format,    ///< a file's content does not follow its format
};

inline const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::shape: return "shape";
    case ErrorKind::config: return "config";
    case ErrorKind::index: return "index";
    case ErrorKind::autograd: return "autograd";
    case ErrorKind::value: return "value";
    case ErrorKind::io: return "io";
    case ErrorKind::format: return "format";
  }
  return "unknown";
}

/// The exception everlora throws. what() reads "everlora: <kind> error: <message>".
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message)
      : std::runtime_error(std::string("everlora: ") + to_string(kind) + " error: " + message),
        kind_(kind),
        message_(message) {}

  ErrorKind kind() const noexcept { return kind_; }
  /// The message alone, without the "everlora: <kind> error: " prefix (to add context to it).
  const std::string& message() const noexcept { return message_; }

 private:
  ErrorKind kind_;
  std::string message_;
};

}  // namespace everlora

#endif  // EVERLORA_CORE_ERROR_HPP
