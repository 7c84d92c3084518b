// Fashion-MNIST: the IDX reader on hand-made files (gzip'd and raw, well-formed and broken), the
// real test split from Debian's package, rotation and subsets.
#include "everlora/data/fashion_mnist.hpp"

#include <zlib.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/data_support.hpp"
#include "everlora/io/atomic_file.hpp"

using namespace everlora;
using everlora_test::DataTempDir;
using everlora_test::require_data_error;
using everlora_test::write_bytes;

namespace {

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

/// An IDX image file of `count` images of rows x cols whose pixel k is k mod 251, cut or padded
/// to `pixel_bytes` bytes of pixels when that is given.
std::string idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols,
                       long pixel_bytes = -1, std::uint32_t magic = 0x803) {
  std::string out = be32(magic) + be32(count) + be32(rows) + be32(cols);
  const long n = pixel_bytes >= 0 ? pixel_bytes : static_cast<long>(count * rows * cols);
  for (long k = 0; k < n; ++k) out += static_cast<char>(k % 251);
  return out;
}

std::string idx_labels(std::uint32_t count, std::uint32_t magic = 0x801) {
  std::string out = be32(magic) + be32(count);
  for (std::uint32_t k = 0; k < count; ++k) out += static_cast<char>(k * 3 % 256);
  return out;
}

/// Writes `bytes` gzip'd, as the Debian package ships the files.
void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

/// A set of `count` rows x cols images with distinct-ish pixels.
ImageSet synthetic(Index count, Index rows, Index cols) {
  ImageSet s;
  s.count = count;
  s.rows = rows;
  s.cols = cols;
  for (Index k = 0; k < count * rows * cols; ++k)
    s.pixels.push_back(static_cast<std::uint8_t>(k * 37 % 256));
  for (Index k = 0; k < count; ++k) s.labels.push_back(static_cast<int>(k % 10));
  return s;
}

}  // namespace

TEST_CASE("read_idx_gz reads gzip'd and raw IDX files", "[data][fashion_mnist]") {
  DataTempDir dir;
  write_gz(dir.file("img.gz"), idx_images(3, 2, 4));
  write_gz(dir.file("lab.gz"), idx_labels(3));
  write_bytes(dir.file("img.raw"), idx_images(3, 2, 4));
  for (const char* images : {"img.gz", "img.raw"}) {
    const ImageSet s = read_idx_gz(dir.file(images), dir.file("lab.gz"));
    CHECK(s.count == 3);
    CHECK(s.rows == 2);
    CHECK(s.cols == 4);
    REQUIRE(s.pixels.size() == 24);
    for (std::size_t k = 0; k < 24; ++k) CHECK(s.pixels[k] == k % 251);
    CHECK(s.labels == std::vector<int>{0, 3, 6});
  }
}

TEST_CASE("read_idx_gz names the file with a bad magic, truncated data or extra bytes",
          "[data][fashion_mnist][errors]") {
  DataTempDir dir;
  const std::string img = dir.file("img.gz"), lab = dir.file("lab.gz");
  write_gz(lab, idx_labels(3));
  write_gz(img, idx_images(3, 2, 4, -1, 0x801));
  require_data_error([&] { read_idx_gz(img, lab); }, ErrorKind::format,
                     {img, "bad magic 0x00000801", "expected 0x00000803", "images"});
  require_data_error([&] { read_idx_gz(lab, lab); }, ErrorKind::format, {lab, "bad magic"});
  write_gz(img, idx_images(3, 2, 4));
  write_gz(lab, idx_labels(3, 0x803));
  require_data_error([&] { read_idx_gz(img, lab); }, ErrorKind::format,
                     {lab, "expected 0x00000801", "labels"});
  write_gz(lab, idx_labels(3));
  write_gz(img, idx_images(3, 2, 4, 20));
  require_data_error([&] { read_idx_gz(img, lab); }, ErrorKind::format,
                     {img, "truncated", "3 x 2 x 4", "24 bytes", "holds 20"});
  write_bytes(dir.file("img.raw"), idx_images(3, 2, 4).substr(0, 10));
  require_data_error([&] { read_idx_gz(dir.file("img.raw"), lab); }, ErrorKind::format,
                     {dir.file("img.raw"), "truncated IDX header", "10 of 16 bytes"});
  write_gz(img, idx_images(3, 2, 4, 25));
  require_data_error([&] { read_idx_gz(img, lab); }, ErrorKind::format, {img, "unexpected bytes"});
  write_gz(img, idx_images(3, 0, 4));
  require_data_error([&] { read_idx_gz(img, lab); }, ErrorKind::format, {img, "image size 0x4"});
  // A gzip stream cut short (a partial download) is a format error too, not a crash.
  write_gz(img, idx_images(300, 28, 28));
  const std::string gz = read_file(img);
  write_bytes(img, gz.substr(0, gz.size() / 2));
  require_data_error([&] { read_idx_gz(img, lab); }, ErrorKind::format, {img});
}

TEST_CASE("read_idx_gz: image and label counts must agree, files must exist",
          "[data][fashion_mnist][errors]") {
  DataTempDir dir;
  const std::string img = dir.file("img.gz"), lab = dir.file("lab.gz");
  write_gz(img, idx_images(3, 2, 4));
  write_gz(lab, idx_labels(4));
  require_data_error([&] { read_idx_gz(img, lab); }, ErrorKind::format,
                     {"count mismatch", img, "3 images", lab, "4 labels"});
  require_data_error([&] { read_idx_gz(dir.file("none.gz"), lab); }, ErrorKind::io,
                     {dir.file("none.gz")});
}

TEST_CASE("load_fashion_mnist on a folder without the files says how to install them",
          "[data][fashion_mnist][errors]") {
  DataTempDir dir;
  require_data_error(
      [&] { load_fashion_mnist(false, dir.path()); }, ErrorKind::io,
      {dir.file("t10k-images-idx3-ubyte.gz"), "apt-get install dataset-fashion-mnist"});
  write_gz(dir.file("train-images-idx3-ubyte.gz"), idx_images(2, 3, 3));
  require_data_error([&] { load_fashion_mnist(true, dir.path()); }, ErrorKind::io,
                     {dir.file("train-labels-idx1-ubyte.gz"), "dataset-fashion-mnist"});
  write_gz(dir.file("train-labels-idx1-ubyte.gz"), idx_labels(2));
  CHECK(load_fashion_mnist(true, dir.path()).count == 2);
}

TEST_CASE("load_fashion_mnist reads the real test split from Debian's package",
          "[data][fashion_mnist]") {
  // scripts/setup.sh installs dataset-fashion-mnist: a missing package fails here with the error.
  const ImageSet test = load_fashion_mnist(false);
  CHECK(test.count == 10000);
  CHECK(test.rows == 28);
  CHECK(test.cols == 28);
  REQUIRE(test.pixels.size() == 10000u * 28 * 28);
  REQUIRE(test.labels.size() == 10000u);
  std::vector<int> per_class(10, 0);
  for (int label : test.labels) {
    REQUIRE(label >= 0);
    REQUIRE(label <= 9);
    ++per_class[static_cast<std::size_t>(label)];
  }
  for (int n : per_class) CHECK(n == 1000);  // the test split is balanced
}

TEST_CASE("rotate_images by 0 degrees returns identical pixels", "[data][fashion_mnist]") {
  const ImageSet s = synthetic(3, 5, 7);
  for (double degrees : {0.0, 360.0, -720.0}) {
    const ImageSet r = rotate_images(s, degrees);
    CHECK(r.pixels == s.pixels);
    CHECK(r.labels == s.labels);
  }
}

TEST_CASE("rotate_images by 90 degrees is the exact quarter turn counter-clockwise",
          "[data][fashion_mnist]") {
  const Index n = 6;
  const ImageSet s = synthetic(2, n, n);
  const ImageSet r = rotate_images(s, 90.0), back = rotate_images(r, -90.0);
  for (Index i = 0; i < 2; ++i)
    for (Index y = 0; y < n; ++y)
      for (Index x = 0; x < n; ++x) {
        // Counter-clockwise: the source's right column becomes the top row.
        const int got = r.pixels[static_cast<std::size_t>((i * n + y) * n + x)];
        const int want = s.pixels[static_cast<std::size_t>((i * n + x) * n + (n - 1 - y))];
        CHECK(std::abs(got - want) <= 1);
      }
  CHECK(back.pixels == s.pixels);
  // 4 x 90 = 360: the turns compose to the identity.
  CHECK(rotate_images(rotate_images(r, 90.0), 180.0).pixels == s.pixels);
}

TEST_CASE("rotate_images by other angles interpolates and fills the outside with zeros",
          "[data][fashion_mnist]") {
  ImageSet s;
  s.count = 1;
  s.rows = s.cols = 9;
  s.pixels.assign(81, 200);
  s.labels = {4};
  const ImageSet r = rotate_images(s, 45.0);
  CHECK(r.labels == std::vector<int>{4});
  CHECK(r.pixels[4 * 9 + 4] == 200);  // the centre stays
  CHECK(r.pixels[0] == 0);            // a corner comes from outside the source
  require_data_error([&] { rotate_images(s, std::nan("")); }, ErrorKind::value, {"not finite"});
  s.pixels.pop_back();
  require_data_error([&] { rotate_images(s, 10.0); }, ErrorKind::shape,
                     {"rotate_images", "80 pixels"});
}

TEST_CASE("subset copies a range of images with their labels", "[data][fashion_mnist]") {
  const ImageSet s = synthetic(5, 2, 3);
  const ImageSet sub = subset(s, 1, 3);
  CHECK(sub.count == 3);
  CHECK(sub.rows == 2);
  CHECK(sub.cols == 3);
  CHECK(sub.labels == std::vector<int>{1, 2, 3});
  CHECK(std::vector<std::uint8_t>(s.pixels.begin() + 6, s.pixels.begin() + 24) == sub.pixels);
  CHECK(subset(s, 5, 0).count == 0);
  require_data_error([&] { subset(s, 3, 3); }, ErrorKind::index, {"[3, 6)", "set of 5"});
  require_data_error([&] { subset(s, -1, 1); }, ErrorKind::index, {"[-1, 0)"});
}
