// The SVG writer and plots: well-formed standalone documents, one heat-map cell per value with its
// number (none for NaN), escaped labels, lines broken at NaN, bars and the zero line.
#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "everlora/metrics/svg.hpp"
#include "io/io_support.hpp"
#include "metrics/metrics_support.hpp"

using namespace everlora;
using everlora_test::check_well_formed;
using everlora_test::count;
using everlora_test::kNaN;
using everlora_test::require_error;

namespace {

using Series = std::vector<std::pair<std::string, std::vector<double>>>;

}  // namespace

TEST_CASE("xml_escape replaces the five XML specials and control bytes", "[metrics][svg]") {
  CHECK(detail::xml_escape("a<&>\"'b") == "a&lt;&amp;&gt;&quot;&apos;b");
  CHECK(detail::xml_escape(std::string("x\ty\x01z", 5)) == "x y z");
  CHECK(detail::xml_escape("plain text") == "plain text");
}

TEST_CASE("viridis runs from dark purple to yellow and clamps", "[metrics][svg]") {
  CHECK(detail::viridis(0.0).hex == "#440154");
  CHECK(detail::viridis(0.0).dark);
  CHECK(detail::viridis(1.0).hex == "#fde725");
  CHECK_FALSE(detail::viridis(1.0).dark);
  CHECK(detail::viridis(-3.0).hex == "#440154");
  CHECK(detail::viridis(7.0).hex == "#fde725");
  CHECK(detail::viridis(0.5).hex == "#21908d");
}

TEST_CASE("svg_heatmap draws one cell per value and a number in all but NaN cells",
          "[metrics][svg]") {
  const std::vector<std::vector<double>> values = {{35, 25, 15}, {80, kNaN, 20}};
  const std::string svg = svg_heatmap(values, {"R0 (before)", "after pos"},
                                      {"pos", "topic", "source"}, "seq_lora: R");
  check_well_formed(svg);
  CHECK(count(svg, "<rect class=\"cell\"") == 6);
  CHECK(count(svg, "<text class=\"value\"") == 5);
  CHECK(count(svg, "fill=\"#d9d9d9\"") == 1);  // the NaN cell, grey
  CHECK(count(svg, ">80.0</text>") == 1);
  CHECK(count(svg, ">15.0</text>") == 1);
  CHECK(count(svg, "n/a") == 0);
  CHECK(count(svg, ">seq_lora: R</text>") == 1);
  CHECK(count(svg, ">after pos</text>") == 1);
  CHECK(count(svg, ">topic</text>") == 1);
}

TEST_CASE("svg_heatmap escapes its labels and title", "[metrics][svg]") {
  const std::string svg = svg_heatmap({{1.0}}, {"<&>"}, {"a\"b'"}, "R of <x & y>");
  check_well_formed(svg);
  CHECK(count(svg, ">&lt;&amp;&gt;</text>") == 1);
  CHECK(count(svg, ">a&quot;b&apos;</text>") == 1);
  CHECK(count(svg, ">R of &lt;x &amp; y&gt;</text>") == 1);
  CHECK(count(svg, "<&>") == 0);
}

TEST_CASE("svg_heatmap keeps long column labels readable by turning them", "[metrics][svg]") {
  const std::string svg =
      svg_heatmap({{1, 2}}, {"R0 (before)"}, {"a rather long task name", "short"}, "R");
  check_well_formed(svg);
  CHECK(count(svg, "class=\"x-label\"") == 2);
  CHECK(count(svg, "transform=\"rotate(-35.0") == 2);
}

TEST_CASE("svg_heatmap rejects labels that do not match the values", "[metrics][svg]") {
  require_error([] { svg_heatmap({{1, 2}}, {"a", "b"}, {"x", "y"}, "t"); }, ErrorKind::value,
                {"svg_heatmap", "1 rows of values but 2 row labels"});
  require_error([] { svg_heatmap({{1, 2}, {3}}, {"a", "b"}, {"x", "y"}, "t"); }, ErrorKind::value,
                {"svg_heatmap", "row 1 ('b') has 1 values", "2 column labels"});
}

TEST_CASE("svg_line_chart draws a line per run of finite values and a marker on each",
          "[metrics][svg]") {
  const Series series = {{"pos", {10, 20, kNaN, 30, 40}},  // two runs: two lines
                         {"topic", {kNaN, 50, kNaN, 60, kNaN}},  // isolated points: no line
                         {"source", {70, 71, 72, 73, 74}}};
  const std::string svg =
      svg_line_chart({"before", "after pos", "after topic", "after source", "after x"}, series,
                     "each task over time", "score (%)");
  check_well_formed(svg);
  CHECK(count(svg, "<polyline") == 3);
  CHECK(count(svg, "<circle") == 4 + 2 + 5);
  CHECK(count(svg, "stroke=\"#4e79a7\"") == 2);  // palette: pos first, source third
  CHECK(count(svg, "stroke=\"#e15759\"") == 1);
  CHECK(count(svg, "<rect class=\"legend\"") == 3);
  CHECK(count(svg, ">score (%)</text>") == 1);
  for (const char* tick : {">0</text>", ">20</text>", ">100</text>"}) CHECK(count(svg, tick) == 1);
}

TEST_CASE("svg_line_chart takes its y axis from the caller (a loss curve)", "[metrics][svg]") {
  const std::string svg = svg_line_chart({"500", "1000", "1500"}, {{"held out", {4.9, 4.5, 4.2}}}, "loss", "nats", ChartAxis{4.0, 5.0, 0.5});
  check_well_formed(svg);
  for (const char* tick : {">4.0</text>", ">4.5</text>", ">5.0</text>"}) CHECK(count(svg, tick) == 1);
  CHECK(count(svg, ">20</text>") == 0);
  require_error([] { svg_line_chart({"a"}, {{"s", {1}}}, "t", "y", ChartAxis{2, 1, 0.5}); }, ErrorKind::value,
                {"svg_line_chart: the y axis needs lo < hi and step > 0"});
}

TEST_CASE("svg_line_chart rejects a series of the wrong length", "[metrics][svg]") {
  require_error([] { svg_line_chart({"a", "b"}, {{"pos", {1, 2, 3}}}, "t", "y"); },
                ErrorKind::value, {"svg_line_chart", "series 'pos' has 3 values for 2 labels"});
}

TEST_CASE("svg_bar_chart draws a bar per finite value and a zero line under negatives",
          "[metrics][svg]") {
  const std::vector<std::string> methods = {"seq_lora", "jump_lora+ella", "mtl"};
  const std::string with_negative =
      svg_bar_chart(methods, {{"AA", {40, 70, 80}}, {"BWT", {-30.5, -2, kNaN}}}, "AA and BWT",
                    "percent points");
  check_well_formed(with_negative);
  CHECK(count(with_negative, "<rect class=\"bar\"") == 5);
  CHECK(count(with_negative, "class=\"zero-line\"") == 1);
  CHECK(count(with_negative, ">-30.5</text>") == 1);
  CHECK(count(with_negative, ">n/a</text>") == 1);
  CHECK(count(with_negative, ">jump_lora+ella</text>") == 1);

  const std::string positive = svg_bar_chart(methods, {{"AA", {40, 70, 80}}}, "AA", "%");
  check_well_formed(positive);
  CHECK(count(positive, "<rect class=\"bar\"") == 3);
  CHECK(count(positive, "class=\"zero-line\"") == 0);
}

TEST_CASE("svg_bar_chart rejects a series of the wrong length", "[metrics][svg]") {
  require_error([] { svg_bar_chart({"a"}, {{"AA", {}}}, "t", "y"); }, ErrorKind::value,
                {"svg_bar_chart", "series 'AA' has 0 values for 1 labels"});
}

TEST_CASE("Numbers that round to zero print without a minus sign", "[metrics][svg]") {
  CHECK(everlora::detail::fixed(-0.001, 2) == "0.00");
  CHECK(everlora::detail::fixed(-0.0, 1) == "0.0");
  CHECK(everlora::detail::fixed(-0.05, 2) == "-0.05");
  CHECK(everlora::detail::fixed(-12.5, 1) == "-12.5");
}
