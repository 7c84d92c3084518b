// Tensor and Shape basics: construction, views, copies, printing, and clear errors.
#include <catch2/catch.hpp>

#include <sstream>

#include "everlora/core.hpp"

using namespace everlora;

TEST_CASE("Shape counts elements, normalises axes and prints itself", "[core][tensor]") {
  const Shape s{2, 3, 4};
  CHECK(s.rank() == 3);
  CHECK(s.numel() == 24);
  CHECK(s.rows() == 6);
  CHECK(s.last() == 4);
  CHECK(s[-1] == 4);
  CHECK(s.str() == "[2, 3, 4]");
  CHECK(s.reduced(1, false) == Shape{2, 4});
  CHECK(s.reduced(-1, true) == Shape{2, 3, 1});
  CHECK(Shape{}.numel() == 1);
  CHECK(Shape{}.str() == "[]");
  CHECK_THROWS_AS(s.normalize_axis(3), Error);
}

TEST_CASE("Shape rejects a fifth dimension and negative sizes", "[core][tensor][errors]") {
  try {
    Shape bad{1, 2, 3, 4, 5};
    FAIL("rank 5 must throw");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::shape);
    CHECK_THAT(e.what(), Catch::Contains("rank 5"));
  }
  CHECK_THROWS_AS((Shape{2, -1}), Error);
}

TEMPLATE_TEST_CASE("Tensor factories fill the expected values", "[core][tensor]", float, double) {
  using T = TestType;
  auto z = Tensor<T>::zeros({2, 3});
  CHECK(z.numel() == 6);
  CHECK(z.vec().sum() == T(0));
  CHECK(Tensor<T>::ones({4}).vec().sum() == T(4));
  CHECK(Tensor<T>::full({2, 2}, T(1.5))[3] == T(1.5));
  CHECK(Tensor<T>::scalar(T(7)).item() == T(7));
  auto m = Tensor<T>::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(m.matrix()(1, 2) == T(6));
  CHECK(m.matrix().rows() == 2);
  Rng rng(42);
  auto u = Tensor<T>::uniform({1000}, rng, T(-1), T(1));
  CHECK(u.vec().minCoeff() >= T(-1));
  CHECK(u.vec().maxCoeff() < T(1));
  auto n = Tensor<T>::normal({20000}, rng, T(2), T(3));
  CHECK(n.vec().mean() == Approx(2.0).margin(0.1));
}

TEST_CASE("from_vector and item name the mismatch", "[core][tensor][errors]") {
  try {
    Tensor<float>::from_vector({2, 3}, {1, 2, 3});
    FAIL("expected a shape error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::shape);
    CHECK_THAT(e.what(), Catch::Contains("[2, 3]") && Catch::Contains("3 values"));
  }
  CHECK_THROWS_AS(Tensor<float>::zeros({2}).item(), Error);
  CHECK_THROWS_AS(Tensor<float>().shape(), Error);
}

TEST_CASE("copies share storage, clone copies values, reshape is a view", "[core][tensor]") {
  auto a = Tensor<float>::from_vector({2, 2}, {1, 2, 3, 4});
  auto alias = a;
  alias[0] = 10;
  CHECK(a[0] == 10);
  auto copy = a.clone();
  copy[1] = 20;
  CHECK(a[1] == 2);
  auto r = reshape(a, {4});
  CHECK(r.data() == a.data());
  CHECK_THROWS_AS(reshape(a, {3}), Error);
}

TEST_CASE("printing shows the shape and the first values", "[core][tensor]") {
  std::ostringstream os;
  os << Tensor<float>::from_vector({2, 2}, {1, 2, 3, 4});
  CHECK(os.str() == "Tensor[2, 2](1, 2, 3, 4)");
  std::ostringstream undefined;
  undefined << Tensor<float>();
  CHECK(undefined.str() == "Tensor(undefined)");
}

TEST_CASE("Rng streams are reproducible and independent of the platform", "[core][random]") {
  Rng a(7), b(7);
  for (int i = 0; i < 100; ++i) REQUIRE(a.next_u64() == b.next_u64());
  // SplitMix64's published first output for seed 0 (Vigna's reference implementation).
  Rng zero(0);
  CHECK(zero.next_u64() == 0xe220a8397b1dcdafULL);
  Rng c(1);
  double total = 0;
  for (int i = 0; i < 100000; ++i) {
    const auto k = c.below(10);
    REQUIRE(k < 10);
    total += static_cast<double>(k);
  }
  CHECK(total / 100000 == Approx(4.5).margin(0.05));  // 5 standard errors
}
