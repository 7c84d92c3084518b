// everlora tests — helpers for tests/data: a scratch directory that removes itself, plain file
// writes for hand-made fixtures, and an error matcher.
#ifndef EVERLORA_TESTS_DATA_DATA_SUPPORT_HPP
#define EVERLORA_TESTS_DATA_DATA_SUPPORT_HPP

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "everlora/core/error.hpp"

namespace everlora_test {

/// A fresh directory under the system temp directory (unique per instance), removed with
/// everything in it.
class DataTempDir {
 public:
  DataTempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "everlora_data_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~DataTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  DataTempDir(const DataTempDir&) = delete;
  DataTempDir& operator=(const DataTempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Writes `bytes` to `path` plainly, creating its folder.
inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

/// Requires `call` to throw everlora::Error of `kind` whose message contains every fragment.
inline void require_data_error(const std::function<void()>& call, everlora::ErrorKind kind,
                               const std::vector<std::string>& fragments) {
  try {
    call();
    FAIL("no error was thrown");
  } catch (const everlora::Error& e) {
    INFO(e.what());
    CHECK(std::string(everlora::to_string(e.kind())) == everlora::to_string(kind));
    for (const auto& f : fragments) CHECK_THAT(e.what(), Catch::Contains(f));
  }
}

}  // namespace everlora_test

#endif  // EVERLORA_TESTS_DATA_DATA_SUPPORT_HPP
