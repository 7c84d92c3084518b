// everlora tests — helpers for tests/docs: the documentation's pages and their lines.
#ifndef EVERLORA_TESTS_DOCS_DOCS_SUPPORT_HPP
#define EVERLORA_TESTS_DOCS_DOCS_SUPPORT_HPP

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace everlora_test {

inline std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// The text without leading blanks and trailing blanks or '\r'.
inline std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t\r") - begin + 1);
}

/// A line that opens or closes a fenced code block.
inline bool is_fence(const std::string& line) { return trim(line).rfind("```", 0) == 0; }

/// The path relative to the project's root, with '/' separators ("docs/x.md").
inline std::string from_root(const std::filesystem::path& path) {
  return std::filesystem::relative(path, EVERLORA_SOURCE_DIR).generic_string();
}

/// The files under `dir` whose extension is one of `extensions`, sorted.
inline std::vector<std::filesystem::path> files_under(const std::filesystem::path& dir,
                                                      const std::vector<std::string>& extensions) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
    if (entry.is_regular_file() &&
        std::find(extensions.begin(), extensions.end(), entry.path().extension()) != extensions.end())
      out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// The documentation's pages: README.md, examples/README.md and docs/**/*.md.
inline std::vector<std::filesystem::path> doc_pages() {
  const std::filesystem::path root = EVERLORA_SOURCE_DIR;
  std::vector<std::filesystem::path> pages = {root / "README.md", root / "examples" / "README.md"};
  for (const auto& page : files_under(root / "docs", {".md"})) pages.push_back(page);
  return pages;
}

}  // namespace everlora_test

#endif  // EVERLORA_TESTS_DOCS_DOCS_SUPPORT_HPP
