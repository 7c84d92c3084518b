// Consumer test (find_package): an installed everlora compiles, links and runs.
#include <cstdio>
#include <everlora/everlora.hpp>
#include <everlora/version.hpp>

int main() {
  const auto a = everlora::Tensor<float>::from_vector(everlora::Shape{2, 2}, {1, 2, 3, 4});
  const auto b = everlora::Tensor<float>::from_vector(everlora::Shape{2, 2}, {1, 2, 3, 4});
  const auto c = everlora::matmul(a, b);  // [[7, 10], [15, 22]]
  if (c[3] != 22.0f) {
    std::printf("everlora consumer FAILED: c[1,1] = %g, expected 22\n", static_cast<double>(c[3]));
    return 1;
  }
  std::printf("everlora %s consumer ok\n", EVERLORA_VERSION_STRING);
  return 0;
}
