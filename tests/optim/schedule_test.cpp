// Learning-rate schedules: WarmupCosine at the ends of the warm-up, the cosine midpoint and the
// end; ConstantLr; and their validation.
#include <catch2/catch.hpp>

#include <cmath>

#include "everlora/optim/schedule.hpp"

using namespace everlora;

TEST_CASE("WarmupCosine rises linearly, then follows a half cosine to the floor", "[optim][schedule]") {
  // base 1e-3, 10 warm-up steps, 110 steps in all, floor 1e-4: the cosine spans steps 10..110.
  const WarmupCosine s(1e-3, 10, 110, 1e-4);
  // Warm-up: base·(step + 1)/warmup.
  CHECK(s(0) == Approx(1e-4));        // start: the first step already learns
  CHECK(s(4) == Approx(5e-4));
  CHECK(s(9) == Approx(1e-3));        // end of warm-up: base
  CHECK(s(10) == Approx(1e-3));       // cosine start: base
  // Midpoint of the cosine (t = 0.5): (base + floor)/2.
  CHECK(s(60) == Approx(0.5 * (1e-3 + 1e-4)));
  // A quarter in: floor + (base − floor)·(1 + cos(π/4))/2.
  CHECK(s(35) == Approx(1e-4 + 9e-4 * 0.5 * (1 + std::cos(3.14159265358979323846 / 4))));
  CHECK(s(109) > 1e-4);
  CHECK(s(110) == Approx(1e-4));      // end: the floor
  CHECK(s(100000) == Approx(1e-4));   // and it stays there
  CHECK(s(-5) == Approx(1e-4));       // negative steps count as 0
  for (long i = 10; i < 110; ++i) CHECK(s(i + 1) <= s(i));
}

TEST_CASE("WarmupCosine without warm-up starts on the cosine at base_lr", "[optim][schedule]") {
  const WarmupCosine s(0.1, 0, 100);
  CHECK(s(0) == Approx(0.1));
  CHECK(s(50) == Approx(0.05));
  CHECK(s(100) == Approx(0.0).margin(1e-15));
  const WarmupCosine all_warmup(0.1, 4, 4, 0.01);  // warm-up over the whole run, then the floor
  CHECK(all_warmup(3) == Approx(0.1));
  CHECK(all_warmup(4) == Approx(0.01));
}

TEST_CASE("ConstantLr and LrSchedule", "[optim][schedule]") {
  const ConstantLr c(3e-4);
  CHECK(c(0) == 3e-4);
  CHECK(c(123456) == 3e-4);
  LrSchedule any = WarmupCosine(1.0, 2, 10);
  CHECK(any(0) == Approx(0.5));
  any = c;
  CHECK(any(7) == 3e-4);
}

TEST_CASE("schedules reject bad settings, naming the field", "[optim][schedule][errors]") {
  auto expect = [](auto&& make, const char* field) {
    try {
      make();
      FAIL("expected an error about " << field);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::config);
      CHECK_THAT(e.what(), Catch::Contains(field));
    }
  };
  expect([] { WarmupCosine(-1.0, 0, 10); }, "base_lr");
  expect([] { WarmupCosine(1.0, 0, 10, 2.0); }, "min_lr");
  expect([] { WarmupCosine(1.0, 0, 10, -0.1); }, "min_lr");
  expect([] { WarmupCosine(1.0, 0, 0); }, "total_steps");
  expect([] { WarmupCosine(1.0, 11, 10); }, "warmup_steps");
  expect([] { WarmupCosine(1.0, -1, 10); }, "warmup_steps");
  expect([] { ConstantLr(std::nan("")); }, "lr");
}
