// Timer and format_duration.
#include <catch2/catch.hpp>

#include <cmath>

#include "everlora/util/timer.hpp"

using namespace everlora;

TEST_CASE("format_duration prints M:SS or H:MM:SS", "[util][timer]") {
  CHECK(format_duration(0.0) == "0:00");
  CHECK(format_duration(0.4) == "0:00");
  CHECK(format_duration(59.6) == "1:00");
  CHECK(format_duration(61.0) == "1:01");
  CHECK(format_duration(3599.0) == "59:59");
  CHECK(format_duration(3725.0) == "1:02:05");
  CHECK(format_duration(100.0 * 3600.0) == "100:00:00");
  CHECK(format_duration(-1.0) == "?:??");
  CHECK(format_duration(std::nan("")) == "?:??");
}

TEST_CASE("Timer measures non-negative, non-decreasing time", "[util][timer]") {
  Timer t;
  const double a = t.seconds();
  const double b = t.seconds();
  CHECK(a >= 0.0);
  CHECK(b >= a);
  CHECK(t.milliseconds() >= 1e3 * b);
  t.reset();
  CHECK(t.seconds() < 1.0);
  CHECK(monotonic_seconds() >= monotonic_seconds() - 1.0);
}
