// Progress: what it prints on a terminal (one line redrawn with '\r', throttled) and elsewhere
// (plain lines every N% or every few seconds, never '\r'), driven by an injected stream and clock
// so that every byte is deterministic.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "everlora/util/progress.hpp"

using namespace everlora;

namespace {

/// A fake clock and stream, and options wired to them.
struct Rig {
  double now = 0.0;
  std::ostringstream out;
  ProgressOptions options(ProgressMode mode, int columns = 80) {
    ProgressOptions o;
    o.mode = mode;
    o.out = &out;
    o.clock = [this] { return now; };
    o.columns = columns;
    return o;
  }
};

long count_of(const std::string& s, char c) {
  long n = 0;
  for (char x : s) n += x == c;
  return n;
}

/// The pieces between '\r's (the successive redraws), without trailing spaces.
std::vector<std::string> redraws(const std::string& s) {
  std::vector<std::string> parts;
  std::size_t pos = 0;
  while ((pos = s.find('\r', pos)) != std::string::npos) {
    std::size_t end = s.find_first_of("\r\n", pos + 1);
    if (end == std::string::npos) end = s.size();
    std::string part = s.substr(pos + 1, end - pos - 1);
    while (!part.empty() && part.back() == ' ') part.pop_back();
    parts.push_back(part);
    pos = end;
  }
  return parts;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("on a terminal the bar shows percent, bar, count, rate, ETA and status", "[util][progress]") {
  Rig rig;
  Progress bar(100, "pretrain", rig.options(ProgressMode::tty));
  CHECK(bar.mode() == ProgressMode::tty);
  rig.now = 10.0;
  bar.update(25, "loss 1.23");
  const auto parts = redraws(rig.out.str());
  REQUIRE(parts.size() == 2);  // the initial 0% line, then this one
  CHECK(parts[0] == "pretrain   0% [..............................]  0/100  ? it/s  ETA ?:??");
  // 25 items in 10 s: 2.5 it/s, 75 left → 30 s. The bar fills what is left of 79 columns.
  CHECK(parts[1] == "pretrain  25% [#####..................]  25/100  2.50 it/s  ETA 0:30  loss 1.23");
  CHECK(count_of(rig.out.str(), '\n') == 0);

  rig.now = 40.0;
  bar.update(75);
  bar.finish();
  const std::string all = rig.out.str();
  CHECK(redraws(all).back() ==
        "pretrain 100% [#######################]  100/100  2.50 it/s  in 0:40  loss 1.23");
  CHECK(all.back() == '\n');
  CHECK(count_of(all, '\n') == 1);
  bar.update(5);  // ignored once finished
  CHECK(rig.out.str() == all);
  CHECK(bar.count() == 100);
}

TEST_CASE("terminal redraws are throttled to about ten a second", "[util][progress]") {
  Rig rig;
  {
    Progress bar(1000, "eval", rig.options(ProgressMode::tty));
    for (int i = 0; i < 1000; ++i) {
      rig.now += 0.001;  // 1000 updates over one second
      bar.update();
    }
    // Initial line + one redraw per 0.1 s (+ one for reaching the total, if not on a tick).
    const long draws = count_of(rig.out.str(), '\r');
    CHECK(draws >= 10);
    CHECK(draws <= 12);
    CHECK(redraws(rig.out.str()).back().rfind("eval 100%", 0) == 0);
  }  // the destructor finishes the line
  CHECK(rig.out.str().back() == '\n');
}

TEST_CASE("a redraw covers a longer previous line and never exceeds the width", "[util][progress]") {
  Rig rig;
  Progress bar(10, "x", rig.options(ProgressMode::tty, 50));
  rig.now = 1.0;
  bar.update(1, "a very long status that cannot possibly fit in fifty columns, not even nearly");
  rig.now = 2.0;
  bar.update(1, "short");
  const std::string all = rig.out.str();
  std::size_t pos = 0;
  while ((pos = all.find('\r', pos)) != std::string::npos) {
    const std::size_t end = all.find('\r', pos + 1);
    const std::string piece = all.substr(pos + 1, (end == std::string::npos ? all.size() : end) - pos - 1);
    CHECK(piece.size() <= 49);
    pos = pos + 1;
  }
  // The third draw is padded with spaces over the (truncated, 49-column) second one.
  const auto last = all.substr(all.rfind('\r') + 1);
  CHECK(last.size() == 49);
  CHECK(last.find("short") != std::string::npos);
}

TEST_CASE("off a terminal it prints a plain line every 10 percent and never a carriage return",
          "[util][progress]") {
  Rig rig;
  Progress bar(100, "train", rig.options(ProgressMode::plain));
  for (int i = 0; i < 100; ++i) {
    rig.now += 0.01;
    bar.update(1, "loss " + std::to_string(100 - i));
  }
  bar.finish();
  const std::string all = rig.out.str();
  CHECK(count_of(all, '\r') == 0);
  const auto ls = lines(all);
  REQUIRE(ls.size() == 10);  // 10%, 20%, … 90%, then the final line
  CHECK(ls[0] == "train  10%  10/100  100 it/s  ETA 0:01  loss 91");
  CHECK(ls[8].rfind("train  90%  90/100", 0) == 0);
  CHECK(ls[9] == "train 100%  100/100  100 it/s  in 0:01  loss 1");
}

TEST_CASE("off a terminal a slow loop still prints a line every few seconds", "[util][progress]") {
  Rig rig;
  auto options = rig.options(ProgressMode::plain);
  options.line_interval = 10.0;
  Progress bar(1000, "slow", options);
  for (int i = 0; i < 20; ++i) {  // 2% in 60 s: no percent line, one line per 10 s
    rig.now += 3.0;
    bar.update();
  }
  const auto ls = lines(rig.out.str());
  REQUIRE(ls.size() == 5);  // at 12, 24, 36, 48 and 60 s
  CHECK(ls[0] == "slow   0%  4/1000  3.00 s/it  ETA 49:48");
  CHECK(ls[4] == "slow   2%  20/1000  3.00 s/it  ETA 49:00");
}

TEST_CASE("an unknown total shows the count and rate only", "[util][progress]") {
  Rig rig;
  auto options = rig.options(ProgressMode::plain);
  options.line_interval = 1.0;
  options.unit = "tok";
  Progress bar(0, "stream", options);
  for (int i = 0; i < 4; ++i) {
    rig.now += 0.5;
    bar.update(1000);
  }
  bar.finish();
  const auto ls = lines(rig.out.str());
  REQUIRE(ls.size() == 3);
  CHECK(ls[0] == "stream  2000 tok  2000 tok/s");
  CHECK(ls[2] == "stream  4000 tok  2000 tok/s  in 0:02");
}

TEST_CASE("print puts a message above the bar, and silent prints nothing", "[util][progress]") {
  Rig rig;
  {
    Progress bar(10, "b", rig.options(ProgressMode::tty));
    bar.print("epoch 1 done");
  }
  const std::string all = rig.out.str();
  const auto at = all.find("\repoch 1 done");
  REQUIRE(at != std::string::npos);
  const auto nl = all.find('\n', at);
  REQUIRE(nl != std::string::npos);
  CHECK(all.substr(nl + 1, 4) == "\rb  ");  // the bar is redrawn below the message

  Rig quiet;
  {
    Progress bar(10, "q", quiet.options(ProgressMode::silent));
    bar.update(5, "status");
    bar.print("hidden");
  }
  CHECK(quiet.out.str().empty());
}

TEST_CASE("a bar destroyed by an exception ends its line marked interrupted", "[util][progress]") {
  Rig rig;
  try {
    Progress bar(10, "job", rig.options(ProgressMode::plain));
    bar.update(3);
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  const auto ls = lines(rig.out.str());
  REQUIRE(!ls.empty());
  CHECK(ls.back().find("3/10") != std::string::npos);
  CHECK(ls.back().find("interrupted") != std::string::npos);
}

TEST_CASE("status text is kept on one line", "[util][progress]") {
  Rig rig;
  Progress bar(4, "s", rig.options(ProgressMode::plain));
  bar.finish("two\nlines\r!");
  CHECK(lines(rig.out.str()).back().find("two lines !") != std::string::npos);
  CHECK(count_of(rig.out.str(), '\r') == 0);
}

TEST_CASE("automatic mode on a string stream prints plain lines", "[util][progress]") {
  if (std::getenv("EVERLORA_PROGRESS")) return;  // the environment overrides the choice
  Rig rig;
  Progress bar(2, "auto", rig.options(ProgressMode::automatic));
  CHECK(bar.mode() == ProgressMode::plain);
}

TEST_CASE("rates read naturally", "[util][progress]") {
  CHECK(detail::format_rate(1234.5, "it") == "1234 it/s");
  CHECK(detail::format_rate(35.24, "it") == "35.2 it/s");
  CHECK(detail::format_rate(2.5, "tok") == "2.50 tok/s");
  CHECK(detail::format_rate(0.25, "it") == "4.00 s/it");
  CHECK(detail::format_rate(99.99, "it") == "100 it/s");
  CHECK(detail::format_rate(9.999, "it") == "10.0 it/s");
  CHECK(detail::format_rate(0.0, "it") == "? it/s");
}
