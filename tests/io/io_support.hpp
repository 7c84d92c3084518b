// everlora tests — helpers for tests/io: a scratch directory that removes itself, an error matcher,
// and builders for hand-made safetensors images.
#ifndef EVERLORA_TESTS_IO_IO_SUPPORT_HPP
#define EVERLORA_TESTS_IO_IO_SUPPORT_HPP

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "everlora/core/error.hpp"

namespace everlora_test {

/// A fresh directory under the system temp directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "everlora_io_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  /// The names of the entries in the directory (temporaries included: they start with '.').
  std::set<std::string> entries() const {
    std::set<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_))
      out.insert(e.path().filename().string());
    return out;
  }

 private:
  std::string path_;
};

/// Writes `bytes` to `path` plainly (for fixtures the code under test must not produce itself).
inline void write_plain(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Requires `call` to throw everlora::Error of `kind` whose message contains every fragment.
inline void require_error(const std::function<void()>& call, everlora::ErrorKind kind,
                          const std::vector<std::string>& fragments) {
  try {
    call();
    FAIL("no error was thrown");
  } catch (const everlora::Error& e) {
    INFO(e.what());
    CHECK(everlora::to_string(e.kind()) == std::string(everlora::to_string(kind)));
    for (const auto& f : fragments) CHECK_THAT(e.what(), Catch::Contains(f));
  }
}

/// `value` as `bytes` little-endian bytes.
inline std::string le_bytes(std::uint64_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
  return out;
}

/// A safetensors image: the 8-byte length of `header`, `header` (padded with spaces to a multiple
/// of 8 when `pad`), then `data`.
inline std::string st_image(std::string header, const std::string& data, bool pad = true) {
  if (pad) header.append((8 - header.size() % 8) % 8, ' ');
  return le_bytes(header.size(), 8) + header + data;
}

/// `count` zero bytes.
inline std::string zeros(std::size_t count) { return std::string(count, '\0'); }

}  // namespace everlora_test

#endif  // EVERLORA_TESTS_IO_IO_SUPPORT_HPP
