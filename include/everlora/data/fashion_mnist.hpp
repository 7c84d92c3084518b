// everlora — Fashion-MNIST from Debian's package dataset-fashion-mnist: the IDX reader (gzip'd or
// raw, through zlib), the train / test splits, and the rotation that makes the
// rotated-Fashion-MNIST tasks (BENCHMARKS.md). Images stay bytes; workloads scale them to [0, 1].
// @sa docs/concepts/data.md
#ifndef EVERLORA_DATA_FASHION_MNIST_HPP
#define EVERLORA_DATA_FASHION_MNIST_HPP

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "everlora/config.hpp"
#include "everlora/core/error.hpp"
#include "everlora/data/task.hpp"

namespace everlora {

/// Where Debian's dataset-fashion-mnist installs the four .gz files.
inline const char* const kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

namespace detail {

/// A file read through zlib (gzip'd or not); closed on destruction.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    errno = 0;  // gzopen may fail without a system error (out of memory)
    file_ = gzopen(path.c_str(), "rb");
    if (file_ == nullptr)
      throw Error(ErrorKind::io, "cannot open '" + path +
                                     "': " + (errno ? std::strerror(errno) : "gzopen failed"));
  }
  ~GzReader() { gzclose(file_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  const std::string& path() const { return path_; }

  /// Reads up to `size` bytes into `dst`; fewer only at the end of the file. Throws Error(io) if
  /// the system read fails, Error(format) if the gzip data is corrupt.
  std::size_t read(void* dst, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
      const unsigned chunk =
          static_cast<unsigned>(std::min<std::size_t>(size - done, std::size_t(1) << 30));
      const int n = gzread(file_, static_cast<char*>(dst) + done, chunk);
      if (n < 0) {
        int err = 0;
        const char* msg = gzerror(file_, &err);
        if (err == Z_ERRNO)
          throw Error(ErrorKind::io, "cannot read '" + path_ + "': " + std::strerror(errno));
        throw Error(ErrorKind::format, path_ + ": corrupt gzip data: " + msg);
      }
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    return done;
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

inline std::string hex32(std::uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(v));
  return buf;
}

/// The dimensions of an IDX header of unsigned bytes with `dims` dimensions (magic 0x000008<dims>),
/// each a big-endian 32-bit count. `what` names the content in errors ("images", "labels").
inline std::vector<std::uint64_t> read_idx_header(GzReader& in, int dims, const char* what) {
  const std::size_t need = 4 * (1 + static_cast<std::size_t>(dims));
  std::vector<std::uint64_t> v;  // the magic, then the dimensions
  for (std::size_t i = 0; i <= static_cast<std::size_t>(dims); ++i) {
    unsigned char b[4];
    const std::size_t got = in.read(b, 4);
    if (got < 4)
      throw Error(ErrorKind::format, in.path() + ": truncated IDX header (" +
                                         std::to_string(4 * i + got) + " of " +
                                         std::to_string(need) + " bytes)");
    v.push_back(std::uint64_t(b[0]) << 24 | std::uint64_t(b[1]) << 16 | std::uint64_t(b[2]) << 8 |
                b[3]);
    const std::uint32_t magic = 0x800u + static_cast<std::uint32_t>(dims);
    if (i == 0 && v[0] != magic)  // checked first: a labels file passed as images says so
      throw Error(ErrorKind::format, in.path() + ": bad magic " +
                                         hex32(static_cast<std::uint32_t>(v[0])) + ", expected " +
                                         hex32(magic) + " (IDX, unsigned bytes, " +
                                         std::to_string(dims) + " dimensions: " + what + ")");
  }
  v.erase(v.begin());
  return v;
}

/// The `size` bytes after the header, which must be all the file holds. `what` describes them.
inline std::vector<std::uint8_t> read_idx_payload(GzReader& in, std::uint64_t size,
                                                  const std::string& what) {
  // Grow as the data arrives: a header that lies cannot make us allocate what the file lacks.
  constexpr std::size_t kChunk = std::size_t(1) << 20;
  std::vector<std::uint8_t> out;
  while (out.size() < size) {
    const std::size_t old = out.size(),
                      want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, size - old));
    out.resize(old + want);
    const std::size_t got = in.read(out.data() + old, want);
    if (got < want)
      throw Error(ErrorKind::format, in.path() + ": truncated: the header announces " + what +
                                         " = " + std::to_string(size) +
                                         " bytes but the file holds " + std::to_string(old + got));
  }
  unsigned char extra = 0;
  if (in.read(&extra, 1) != 0)
    throw Error(ErrorKind::format, in.path() + ": unexpected bytes after the " +
                                       std::to_string(size) + " bytes the header announces (" +
                                       what + ")");
  return out;
}

/// Throws Error(shape) unless `set`'s vectors match its count, rows and cols.
inline void check_image_set(const ImageSet& set, const char* api) {
  if (set.count < 0 || set.rows < 0 || set.cols < 0 ||
      set.pixels.size() != static_cast<std::size_t>(set.count * set.rows * set.cols) ||
      set.labels.size() != static_cast<std::size_t>(set.count))
    throw Error(ErrorKind::shape, std::string(api) + ": image set of " + std::to_string(set.count) +
                                      " images of " + std::to_string(set.rows) + "x" +
                                      std::to_string(set.cols) + " holds " +
                                      std::to_string(set.pixels.size()) + " pixels and " +
                                      std::to_string(set.labels.size()) + " labels");
}

}  // namespace detail

/// Images and labels from a pair of IDX files (gzip'd or raw; zlib reads both): images with magic
/// 0x00000803 then big-endian count, rows, cols and count·rows·cols pixel bytes; labels with magic
/// 0x00000801 then count and count label bytes. Labels may be any byte (Fashion-MNIST's are 0–9;
/// callers that need a class range check it). Throws Error(io) if a file cannot be opened or read,
/// Error(format) naming the file for a bad magic, a truncated header or payload, bytes after the
/// payload, an image size of 0 or over 2^24 pixels, corrupt gzip data, and (naming both files)
/// different image and label counts.
inline ImageSet read_idx_gz(const std::string& images_path, const std::string& labels_path) {
  detail::GzReader images(images_path), labels(labels_path);
  const auto idims = detail::read_idx_header(images, 3, "images");
  const auto ldims = detail::read_idx_header(labels, 1, "labels");
  const std::uint64_t count = idims[0], rows = idims[1], cols = idims[2];
  if (rows == 0 || cols == 0 || rows * cols > (std::uint64_t(1) << 24))
    throw Error(ErrorKind::format, images_path + ": implausible image size " +
                                       std::to_string(rows) + "x" + std::to_string(cols));
  if (ldims[0] != count)
    throw Error(ErrorKind::format, "IDX count mismatch: " + images_path + " holds " +
                                       std::to_string(count) + " images but " + labels_path +
                                       " holds " + std::to_string(ldims[0]) + " labels");
  ImageSet set;
  set.count = static_cast<Index>(count);
  set.rows = static_cast<Index>(rows);
  set.cols = static_cast<Index>(cols);
  set.pixels = detail::read_idx_payload(images, count * rows * cols,
                                        "count x rows x cols = " + std::to_string(count) + " x " +
                                            std::to_string(rows) + " x " + std::to_string(cols));
  const std::vector<std::uint8_t> ids = detail::read_idx_payload(labels, count, "count");
  set.labels.assign(ids.begin(), ids.end());
  return set;
}

/// Fashion-MNIST's training split (60000 images, train-*-idx?-ubyte.gz) or test split (10000,
/// t10k-*) from `dir`, 28x28, labels 0–9. Throws Error(io) saying how to install the data set if a
/// file is missing; otherwise as read_idx_gz.
inline ImageSet load_fashion_mnist(bool train, const std::string& dir = kFashionMnistDir) {
  const std::string prefix = dir + "/" + (train ? "train" : "t10k");
  const std::string images = prefix + "-images-idx3-ubyte.gz",
                    labels = prefix + "-labels-idx1-ubyte.gz";
  for (const std::string& path : {images, labels}) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
      throw Error(ErrorKind::io,
                  "load_fashion_mnist: '" + path +
                      "' not found: install Debian's package with `apt-get install "
                      "dataset-fashion-mnist` (scripts/setup.sh does), or pass another dir");
  }
  return read_idx_gz(images, labels);
}

/// Every image of `set` rotated counter-clockwise (as displayed, rows downwards) by `degrees`
/// about its centre ((cols−1)/2, (rows−1)/2): each output pixel samples the source bilinearly at
/// the inversely rotated position, rounded to the nearest byte; outside the source reads 0. The
/// images keep their size (corners that leave the frame are lost) and labels. Multiples of 90°
/// use exact sines, so 0° returns identical pixels and 90° on a square image is the exact index
/// permutation out[y][x] = in[x][cols−1−y]. Throws Error(value) if degrees is not finite,
/// Error(shape) if `set` is inconsistent.
inline ImageSet rotate_images(const ImageSet& set, double degrees) {
  detail::check_image_set(set, "rotate_images");
  if (!std::isfinite(degrees))
    throw Error(ErrorKind::value,
                "rotate_images: the angle " + std::to_string(degrees) + " is not finite");
  double c = 0, s = 0;
  const double quarters = degrees / 90.0;
  if (quarters == std::floor(quarters) && std::abs(quarters) < 1e15) {
    const long long q = (static_cast<long long>(quarters) % 4 + 4) % 4;
    c = q == 0 ? 1 : q == 2 ? -1 : 0;
    s = q == 1 ? 1 : q == 3 ? -1 : 0;
  } else {
    const double rad = degrees * 3.14159265358979323846 / 180.0;
    c = std::cos(rad);
    s = std::sin(rad);
  }
  const Index rows = set.rows, cols = set.cols;
  const double cy = 0.5 * static_cast<double>(rows - 1), cx = 0.5 * static_cast<double>(cols - 1);
  // Every image samples the same positions: find each output pixel's four source pixels (-1 when
  // outside the frame) and bilinear weights once. Image coordinates have y downwards, so a
  // counter-clockwise turn samples the source at (cx + dx·c − dy·s, cy + dx·s + dy·c).
  struct Taps {
    Index at[4];
    double w[4];
  };
  std::vector<Taps> taps(static_cast<std::size_t>(rows * cols));
  for (Index y = 0; y < rows; ++y) {
    for (Index x = 0; x < cols; ++x) {
      const double dx = static_cast<double>(x) - cx, dy = static_cast<double>(y) - cy;
      const double sx = cx + dx * c - dy * s, sy = cy + dx * s + dy * c;
      const double fx0 = std::floor(sx), fy0 = std::floor(sy), fx = sx - fx0, fy = sy - fy0;
      const Index x0 = static_cast<Index>(fx0), y0 = static_cast<Index>(fy0);
      Taps& t = taps[static_cast<std::size_t>(y * cols + x)];
      for (int k = 0; k < 4; ++k) {
        const Index yy = y0 + k / 2, xx = x0 + k % 2;
        t.at[k] = yy >= 0 && yy < rows && xx >= 0 && xx < cols ? yy * cols + xx : -1;
        t.w[k] = (k / 2 ? fy : 1 - fy) * (k % 2 ? fx : 1 - fx);
      }
    }
  }
  ImageSet out = set;
  for (Index i = 0; i < set.count; ++i) {
    const std::uint8_t* src = set.pixels.data() + i * rows * cols;
    std::uint8_t* dst = out.pixels.data() + i * rows * cols;
    for (std::size_t p = 0; p < taps.size(); ++p) {
      double v = 0;
      for (int k = 0; k < 4; ++k)
        if (taps[p].at[k] >= 0) v += taps[p].w[k] * src[taps[p].at[k]];
      dst[p] = static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L));
    }
  }
  return out;
}

/// Images begin .. begin+count−1 of `set` (with their labels). Throws Error(index) if that range
/// is not inside the set, Error(shape) if `set` is inconsistent.
inline ImageSet subset(const ImageSet& set, Index begin, Index count) {
  detail::check_image_set(set, "subset");
  if (begin < 0 || count < 0 || begin > set.count - count)
    throw Error(ErrorKind::index, "subset: images [" + std::to_string(begin) + ", " +
                                      std::to_string(begin + count) +
                                      ") are not inside the set of " + std::to_string(set.count));
  const Index pixels = set.rows * set.cols;
  ImageSet out;
  out.count = count;
  out.rows = set.rows;
  out.cols = set.cols;
  out.pixels.assign(set.pixels.begin() + begin * pixels,
                    set.pixels.begin() + (begin + count) * pixels);
  out.labels.assign(set.labels.begin() + begin, set.labels.begin() + begin + count);
  return out;
}

}  // namespace everlora

#endif  // EVERLORA_DATA_FASHION_MNIST_HPP
