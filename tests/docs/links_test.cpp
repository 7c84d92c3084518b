// Every relative link of the documentation (README.md, examples/README.md, docs/**/*.md) leads
// somewhere: its file exists, and its #anchor is a heading of the target page, spelled the way
// GitHub spells heading anchors. Links to the web are not followed (there is no network here).
#include <catch2/catch.hpp>

#include "docs_support.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace everlora_test;

struct Link {
  std::string where;   // "docs/x.md:12"
  std::string target;  // "../y.md#a-heading", "#a-heading", "img/z.svg"
};

/// The line without its `code spans`, where a bracket is not a link.
std::string without_code_spans(const std::string& line) {
  std::string out;
  bool in_code = false;
  for (char c : line) {
    if (c == '`') in_code = !in_code;
    else if (!in_code) out += c;
  }
  return out;
}

/// The Unicode code point of the UTF-8 sequence at s[i] (advancing i past it); 0xFFFD when broken.
char32_t next_code_point(const std::string& s, std::size_t& i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  const int extra = lead < 0x80 ? 0 : lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : -1;
  if (extra < 0 || i + static_cast<std::size_t>(extra) >= s.size()) {
    ++i;
    return 0xFFFD;
  }
  char32_t cp = extra == 0 ? lead : lead & (0x3F >> extra);
  for (int k = 1; k <= extra; ++k) cp = (cp << 6) | (byte(i + static_cast<std::size_t>(k)) & 0x3F);
  i += static_cast<std::size_t>(extra) + 1;
  return cp;
}

/// GitHub's anchor of a heading: the rendered text in lower case, spaces as hyphens, and every
/// character but letters, digits, '-' and '_' dropped (so "cl_scaling — cost" is
/// "cl_scaling--cost"). Letters beyond ASCII are kept as written (Latin and Greek ones here).
std::string github_slug(const std::string& heading) {
  std::string text;  // the heading as rendered: a link's text, no code or emphasis marks
  for (std::size_t i = 0; i < heading.size(); ++i) {
    if (heading[i] == ']' && i + 1 < heading.size() && heading[i + 1] == '(') {
      i = heading.find(')', i);
      if (i == std::string::npos) break;
      continue;
    }
    text += heading[i];
  }
  std::string slug;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t start = i;
    const char32_t cp = next_code_point(text, i);
    if (cp < 0x80) {
      const char c = static_cast<char>(cp);
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') slug += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      else if (c == ' ') slug += '-';
    } else {
      const bool latin_letter = cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7;
      const bool greek_letter = cp >= 0x370 && cp <= 0x3FF;
      if (latin_letter || greek_letter) slug += text.substr(start, i - start);
    }
  }
  return slug;
}

/// The anchors of a page's headings (outside code blocks), numbered as GitHub numbers repeats.
std::set<std::string> page_anchors(const fs::path& page) {
  std::set<std::string> anchors;
  std::map<std::string, int> seen;
  bool in_code = false;
  for (const std::string& line : read_lines(page)) {
    if (is_fence(line)) in_code = !in_code;
    if (in_code || line.empty() || line[0] != '#') continue;
    const auto text = line.find_first_not_of('#');
    if (text == std::string::npos || line[text] != ' ') continue;
    const std::string slug = github_slug(line.substr(text + 1));
    const int n = seen[slug]++;
    anchors.insert(n == 0 ? slug : slug + "-" + std::to_string(n));
  }
  return anchors;
}

/// The inline links and images "[text](target)" of a page, outside code blocks and code spans.
std::vector<Link> page_links(const fs::path& page, const std::string& name) {
  std::vector<Link> out;
  bool in_code = false;
  const std::vector<std::string> lines = read_lines(page);
  for (std::size_t n = 0; n < lines.size(); ++n) {
    if (is_fence(lines[n])) in_code = !in_code;
    if (in_code) continue;
    const std::string line = without_code_spans(lines[n]);
    for (auto open = line.find("]("); open != std::string::npos; open = line.find("](", open + 2)) {
      const auto close = line.find(')', open + 2);
      if (close == std::string::npos) break;
      std::string target = line.substr(open + 2, close - open - 2);
      target = target.substr(0, target.find(' '));  // [t](file "title")
      out.push_back({name + ":" + std::to_string(n + 1), target});
    }
  }
  return out;
}

bool is_web(const std::string& target) {
  return target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0 || target.rfind("mailto:", 0) == 0;
}

}  // namespace

TEST_CASE("GitHub heading anchors are spelled as GitHub spells them", "[docs]") {
  CHECK(github_slug("Results") == "results");
  CHECK(github_slug("cl_scaling — cost against the number of tasks") == "cl_scaling--cost-against-the-number-of-tasks");
  CHECK(github_slug("Beside PyTorch (`scripts/bench_vs_torch.sh`)") == "beside-pytorch-scriptsbench_vs_torchsh");
  CHECK(github_slug("What we tried: λ_L1, the gate function") == "what-we-tried-λ_l1-the-gate-function");
  CHECK(github_slug("The gate × combiner × strategy seam") == "the-gate--combiner--strategy-seam");
  CHECK(github_slug("See [the page](x.md) now") == "see-the-page-now");
}

TEST_CASE("Every relative link of the docs leads to a file, and every anchor to a heading", "[docs]") {
  std::size_t checked = 0;
  std::string broken;
  for (const fs::path& page : doc_pages())
    for (const Link& link : page_links(page, from_root(page))) {
      if (is_web(link.target)) continue;
      ++checked;
      const auto hash = link.target.find('#');
      const std::string file = link.target.substr(0, hash);
      const fs::path target = file.empty() ? page : page.parent_path() / file;
      if (!fs::exists(target)) {
        broken += "\n  " + link.where + ": " + link.target + " (no such file)";
        continue;
      }
      if (hash == std::string::npos) continue;
      const std::string anchor = link.target.substr(hash + 1);
      if (target.extension() != ".md" || page_anchors(target).count(anchor) == 0)
        broken += "\n  " + link.where + ": " + link.target + " (no heading #" + anchor + " there)";
    }
  REQUIRE(checked >= 50);  // the pages and their links were found
  INFO("links that lead nowhere:" << broken);
  CHECK(broken.empty());
}
