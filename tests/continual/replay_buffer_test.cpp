// ReplayBuffer: the reservoir rule, tested statistically with fixed seeds, and its sampling.
#include <catch2/catch.hpp>

#include <set>
#include <vector>

#include "everlora/continual/replay_buffer.hpp"

using namespace everlora;

TEST_CASE("The reservoir keeps every offered example with equal probability", "[continual][replay]") {
  constexpr Index kStream = 100, kCapacity = 10, kTrials = 4000;
  std::vector<int> kept(kStream, 0);
  for (Index trial = 0; trial < kTrials; ++trial) {
    ReplayBuffer buffer(kCapacity, 1000 + static_cast<std::uint64_t>(trial));
    for (Index i = 0; i < kStream; ++i) buffer.offer({0, i});
    REQUIRE(buffer.size() == kCapacity);
    for (const auto& e : buffer.items()) ++kept[static_cast<std::size_t>(e.index)];
  }
  // Each example is kept with p = 10/100: expected 400 of 4000, sd ≈ 19. A 5-sd band per example,
  // and early and late examples alike (the rule is order-free).
  double early = 0, late = 0;
  for (Index i = 0; i < kStream; ++i) {
    CHECK(kept[static_cast<std::size_t>(i)] > 400 - 95);
    CHECK(kept[static_cast<std::size_t>(i)] < 400 + 95);
    (i < kStream / 2 ? early : late) += kept[static_cast<std::size_t>(i)];
  }
  CHECK(std::abs(early - late) < 0.05 * (early + late));
}

TEST_CASE("The reservoir fills first, then counts what it has seen", "[continual][replay]") {
  ReplayBuffer buffer(3, 7);
  buffer.offer(std::vector<ExampleRef>{{0, 0}, {0, 1}});
  CHECK(buffer.size() == 2);
  CHECK(buffer.items() == std::vector<ExampleRef>{{0, 0}, {0, 1}});
  for (Index i = 2; i < 50; ++i) buffer.offer({1, i});
  CHECK(buffer.size() == 3);
  CHECK(buffer.seen() == 50);
  CHECK_THROWS_WITH(ReplayBuffer(0), Catch::Contains("capacity 0"));
}

TEST_CASE("Sampling draws distinct buffered examples", "[continual][replay]") {
  ReplayBuffer buffer(20, 3);
  for (Index i = 0; i < 20; ++i) buffer.offer({2, i});
  const auto sample = buffer.sample(8);
  REQUIRE(sample.size() == 8);
  std::set<Index> distinct;
  for (const auto& e : sample) {
    CHECK(e.task == 2);
    distinct.insert(e.index);
  }
  CHECK(distinct.size() == 8);
  CHECK(buffer.sample(50).size() == 20);  // never more than it holds
}
