// everlora — reads the quotes of Debian's `fortunes` package, a ready text corpus on any Debian
// machine: /usr/share/games/fortunes/<category>, quotes separated by lines holding only "%".
#ifndef EVERLORA_DATA_FORTUNES_HPP
#define EVERLORA_DATA_FORTUNES_HPP

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "everlora/core/error.hpp"

namespace everlora {

/// Where Debian installs the fortunes.
inline const char* const kFortunesDir = "/usr/share/games/fortunes";

struct Fortune {
  std::string category;  // the file it came from ("computers", "science", …)
  std::string text;      // without the trailing newline
};

/// Every quote of every category file in `dir` (sorted by category, then file order).
/// Throws Error(io) naming the Debian package when the folder is missing or empty.
inline std::vector<Fortune> read_fortunes(const std::string& dir = kFortunesDir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(ErrorKind::io, "read_fortunes: " + dir +
                                   " not found: install Debian's package 'fortunes' "
                                   "(scripts/setup.sh does)");
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const auto ext = entry.path().extension().string();
    if (entry.is_regular_file() && !entry.is_symlink() && ext.empty()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Fortune> out;
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorKind::io, "read_fortunes: cannot read " + path.string());
    std::string line, text;
    auto flush = [&] {
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
      if (!text.empty()) out.push_back({path.filename().string(), text});
      text.clear();
    };
    while (std::getline(in, line)) {
      if (line == "%") flush();
      else text += line + "\n";
    }
    flush();
  }
  if (out.empty())
    throw Error(ErrorKind::io, "read_fortunes: no quotes in " + dir +
                                   " (is Debian's package 'fortunes' installed?)");
  return out;
}

}  // namespace everlora

#endif  // EVERLORA_DATA_FORTUNES_HPP
