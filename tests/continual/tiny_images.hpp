// everlora tests — three 2×2 images with labels {0, 1, 1}: enough for an ImageWorkload on a tiny MLP.
#ifndef EVERLORA_TESTS_CONTINUAL_TINY_IMAGES_HPP
#define EVERLORA_TESTS_CONTINUAL_TINY_IMAGES_HPP

#include "everlora/data/fashion_mnist.hpp"

namespace everlora_test {

inline everlora::ImageSet tiny_image_set() {
  everlora::ImageSet set;
  set.count = 3, set.rows = 2, set.cols = 2;
  set.pixels = {0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
  set.labels = {0, 1, 1};
  return set;
}

}  // namespace everlora_test

#endif  // EVERLORA_TESTS_CONTINUAL_TINY_IMAGES_HPP
