// everlora tests — helpers for tests/metrics: R matrices from literal rows (the worked example of
// BENCHMARKS.md among them), substring counting, and a small well-formedness check for the SVG
// documents (no XML library needed).
#ifndef EVERLORA_TESTS_METRICS_METRICS_SUPPORT_HPP
#define EVERLORA_TESTS_METRICS_METRICS_SUPPORT_HPP

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "everlora/metrics/accuracy_matrix.hpp"

namespace everlora_test {

/// An unset entry, in literal rows and plot series.
inline const double kNaN = std::numeric_limits<double>::quiet_NaN();

/// An AccuracyMatrix holding `rows` (T+1 rows of T scores); NaN leaves an entry unset.
inline everlora::AccuracyMatrix matrix_from_rows(const std::vector<std::vector<double>>& rows) {
  everlora::AccuracyMatrix r(static_cast<everlora::Index>(rows.size()) - 1);
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < rows[i].size(); ++j)
      if (!std::isnan(rows[i][j]))
        r.set(static_cast<everlora::Index>(i), static_cast<everlora::Index>(j), rows[i][j]);
  return r;
}

/// The worked example of BENCHMARKS.md: T = 3, R[0] = [35,25,15], then rows 1..3.
inline everlora::AccuracyMatrix worked_example() {
  return matrix_from_rows({{35, 25, 15}, {80, 30, 20}, {60, 85, 25}, {55, 70, 90}});
}

/// How often `needle` occurs in `haystack` (non-overlapping).
inline std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size()))
    ++n;
  return n;
}

/// Checks what a standalone SVG document needs to be well-formed XML as everlora writes it: one
/// <svg> root with the namespace, viewBox, width and height, a final newline, every element closed
/// or self-closed in order, and no raw '<' or stray '&' in text or attribute values.
inline void check_well_formed(const std::string& svg) {
  REQUIRE(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  REQUIRE(svg.size() >= 7);
  CHECK(svg.substr(svg.size() - 7) == "</svg>\n");
  for (const char* attribute : {" viewBox=\"", " width=\"", " height=\""})
    CHECK(svg.find(attribute) < svg.find('>'));

  std::vector<std::string> open;
  std::size_t roots = 0;
  for (std::size_t at = 0; at < svg.size();) {
    if (svg[at] == '&') {  // only the five entities the writer produces
      bool known = false;
      for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"})
        known = known || svg.compare(at, std::string(e).size(), e) == 0;
      CHECK(known);
    }
    if (svg[at] != '<') {
      ++at;
      continue;
    }
    const std::size_t end = svg.find('>', at);
    REQUIRE(end != std::string::npos);
    const std::string tag = svg.substr(at + 1, end - at - 1);
    INFO("tag <" << tag << ">");
    CHECK(tag.find('<') == std::string::npos);
    CHECK(count(tag, "\"") % 2 == 0);  // a raw '>' inside a value would end the tag early
    if (tag[0] == '/') {
      REQUIRE(!open.empty());
      CHECK(tag.substr(1) == open.back());
      open.pop_back();
    } else if (tag.back() != '/') {
      if (open.empty()) ++roots;
      open.push_back(tag.substr(0, tag.find(' ')));
    }
    at = end + 1;
  }
  CHECK(open.empty());
  CHECK(roots == 1);
}

}  // namespace everlora_test

#endif  // EVERLORA_TESTS_METRICS_METRICS_SUPPORT_HPP
