// everlora tests — small helpers for the optimizer tests: parameters from values, and gradients
// set (or removed) directly, as if a backward() had produced them.
#ifndef EVERLORA_TESTS_OPTIM_HELPERS_HPP
#define EVERLORA_TESTS_OPTIM_HELPERS_HPP

#include <algorithm>
#include <string>
#include <vector>

#include "everlora/core.hpp"

namespace everlora_test {

/// A leaf parameter (requires_grad set) holding `values`.
template <class T>
everlora::Tensor<T> param(const everlora::Shape& shape, const std::vector<T>& values) {
  auto t = everlora::Tensor<T>::from_vector(shape, values);
  t.requires_grad_();
  return t;
}

/// Overwrites p's gradient with `values` (allocating the buffer if needed).
template <class T>
void set_grad(const everlora::Tensor<T>& p, const std::vector<T>& values) {
  REQUIRE(static_cast<everlora::Index>(values.size()) == p.numel());
  std::copy(values.begin(), values.end(), everlora::detail::grad_ptr(p));
}

/// Removes p's gradient buffer, as if backward() had not reached p this step.
template <class T>
void drop_grad(everlora::Tensor<T>& p) {
  p.requires_grad_(false);
  p.requires_grad_(true);
}

/// Every element of `t` within `margin` of `expected`, reporting the first mismatch.
template <class T>
void check_values(const everlora::Tensor<T>& t, const std::vector<double>& expected, double margin,
                  const std::string& what) {
  INFO(what);
  REQUIRE(static_cast<std::size_t>(t.numel()) == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("element " << i);
    CHECK(static_cast<double>(t[static_cast<everlora::Index>(i)]) == Approx(expected[i]).margin(margin));
  }
}

}  // namespace everlora_test

#endif  // EVERLORA_TESTS_OPTIM_HELPERS_HPP
