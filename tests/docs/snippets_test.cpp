// Every C++ block of the documentation (README.md, examples/README.md, docs/**/*.md) has a
// compiled twin: a region of a test or an example between
//   // ---- <the page's path>[: a label] ----
//   … the block's lines …
//   // ----
// with the same lines (indentation shifted as a whole, trailing blanks ignored). A block's
// #include lines cannot sit in a function: they are left out of that comparison, and the twin's
// file must include the same headers. So a snippet that no longer compiles, or that drifted from
// the code the tests run, fails the suite; and so does a twin whose block left the page.
#include <catch2/catch.hpp>

#include "docs_support.hpp"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace everlora_test;

struct Snippet {
  std::string where;                  // "docs/x.md:12"
  std::string page;                   // "docs/x.md"
  std::string text;                   // normalised, without #include lines
  std::vector<std::string> includes;  // a block's "#include <…>" directives, or a twin file's
};

/// The directive of an #include line ("#include <a/b.hpp>"), without what follows it; "" for
/// another line.
std::string include_directive(const std::string& line) {
  const std::string t = trim(line);
  if (t.rfind("#include", 0) != 0) return "";
  const auto close = t.find_first_of(">\"", t.find_first_of("<\"") + 1);
  return close == std::string::npos ? t : t.substr(0, close + 1);
}

/// The lines without their common indentation and trailing blanks, without blank first and last
/// lines, joined by newlines.
std::string normalised(std::vector<std::string> lines) {
  for (auto& l : lines) l = l.substr(0, l.find_last_not_of(" \t\r") + 1);
  while (!lines.empty() && lines.front().empty()) lines.erase(lines.begin());
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::size_t indent = std::string::npos;
  for (const auto& l : lines)
    if (!l.empty()) indent = std::min(indent, l.find_first_not_of(' '));
  std::string out;
  for (const auto& l : lines) out += (l.empty() ? l : l.substr(indent)) + "\n";
  return out;
}

/// The ```cpp blocks of a Markdown page.
std::vector<Snippet> page_snippets(const fs::path& page) {
  const std::vector<std::string> lines = read_lines(page);
  std::vector<Snippet> out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (trim(lines[i]) != "```cpp") continue;
    std::vector<std::string> body, includes;
    std::size_t j = i + 1;
    for (; j < lines.size() && trim(lines[j]) != "```"; ++j) {
      const std::string directive = include_directive(lines[j]);
      if (directive.empty()) body.push_back(lines[j]);
      else includes.push_back(directive);
    }
    out.push_back({from_root(page) + ":" + std::to_string(i + 1), from_root(page), normalised(body), includes});
    i = j;
  }
  return out;
}

/// The twin regions of a source file, by page.
std::vector<Snippet> source_twins(const fs::path& file) {
  const std::vector<std::string> lines = read_lines(file);
  std::vector<std::string> includes;
  for (const auto& line : lines)
    if (const std::string directive = include_directive(line); !directive.empty()) includes.push_back(directive);
  std::vector<Snippet> out;
  const std::string open = "// ---- ";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string head = trim(lines[i]);
    if (head.rfind(open, 0) != 0 || head.size() <= open.size() + 5 || head.substr(head.size() - 5) != " ----") continue;
    std::string page = head.substr(open.size(), head.size() - open.size() - 5);
    page = page.substr(0, page.find(':'));
    std::vector<std::string> body;
    std::size_t j = i + 1;
    for (; j < lines.size() && trim(lines[j]) != "// ----"; ++j) body.push_back(lines[j]);
    out.push_back({from_root(file) + ":" + std::to_string(i + 1), page, normalised(body), includes});
    i = j;
  }
  return out;
}

}  // namespace

TEST_CASE("Every C++ block of the docs is a compiled twin, and every twin is on its page", "[docs]") {
  const fs::path root = EVERLORA_SOURCE_DIR;
  std::vector<Snippet> blocks;
  for (const auto& page : doc_pages())
    for (const auto& block : page_snippets(page)) blocks.push_back(block);
  std::vector<Snippet> twins;
  for (const char* dir : {"tests", "examples"})
    for (const auto& file : files_under(root / dir, {".cpp", ".hpp"}))
      for (const auto& twin : source_twins(file)) twins.push_back(twin);
  REQUIRE(blocks.size() >= 10);  // the pages were found

  // Same page, same lines, and the twin's file includes every header the block includes.
  const auto same = [](const Snippet& block, const Snippet& twin) {
    const auto included = [&](const std::string& i) { return std::find(twin.includes.begin(), twin.includes.end(), i) != twin.includes.end(); };
    return block.page == twin.page && block.text == twin.text && std::all_of(block.includes.begin(), block.includes.end(), included);
  };
  std::string missing, stale;
  for (const Snippet& block : blocks)
    if (std::none_of(twins.begin(), twins.end(), [&](const Snippet& t) { return same(block, t); }))
      missing += "\n  " + block.where + ": no twin with these lines in tests/ or examples/";
  for (const Snippet& twin : twins)
    if (std::none_of(blocks.begin(), blocks.end(), [&](const Snippet& b) { return same(b, twin); }))
      stale += "\n  " + twin.where + ": its lines are in no ```cpp block of " + twin.page;
  INFO("C++ blocks without a compiled twin:" << missing);
  CHECK(missing.empty());
  INFO("twins whose block left the page:" << stale);
  CHECK(stale.empty());
}
