// everlora — Shape: the dimensions of a tensor, rank 0 (a scalar) to 4.
// Row-major: the last dimension is contiguous. Negative axes count from the end, as in PyTorch.
#ifndef EVERLORA_CORE_SHAPE_HPP
#define EVERLORA_CORE_SHAPE_HPP

#include <array>
#include <initializer_list>
#include <string>

#include "everlora/config.hpp"
#include "everlora/core/error.hpp"

namespace everlora {

/// The dimensions of a tensor (rank 0 to kMaxRank), e.g. Shape{8, 128, 512}.
class Shape {
 public:
  static constexpr int kMaxRank = 4;

  Shape() = default;  // rank 0: a scalar with one element
  Shape(std::initializer_list<Index> dims) {
    if (dims.size() > static_cast<std::size_t>(kMaxRank))
      throw Error(ErrorKind::shape, "Shape: rank " + std::to_string(dims.size()) +
                                        " exceeds the maximum rank " + std::to_string(kMaxRank));
    for (Index d : dims) push_back(d);
  }

  /// Builds a shape from the first `rank` entries of `dims`.
  static Shape from(const Index* dims, int rank) {
    if (rank < 0 || rank > kMaxRank)
      throw Error(ErrorKind::shape, "Shape: rank " + std::to_string(rank) + " is outside 0.." +
                                        std::to_string(kMaxRank));
    Shape s;
    for (int i = 0; i < rank; ++i) s.push_back(dims[i]);
    return s;
  }

  int rank() const { return rank_; }
  Index operator[](int axis) const { return dims_[static_cast<std::size_t>(normalize_axis(axis))]; }
  Index& operator[](int axis) { return dims_[static_cast<std::size_t>(normalize_axis(axis))]; }
  const Index* data() const { return dims_.data(); }

  /// Number of elements (1 for a scalar).
  Index numel() const {
    Index n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
    return n;
  }
  /// The last dimension (1 for a scalar): the length of a row in the row-major layout.
  Index last() const { return rank_ == 0 ? 1 : dims_[static_cast<std::size_t>(rank_ - 1)]; }
  /// Number of rows when viewed as a [rows, last()] matrix.
  Index rows() const { return rank_ == 0 ? 1 : numel() / (last() == 0 ? 1 : last()); }

  /// Maps a possibly negative axis into 0..rank-1, or throws naming the shape.
  int normalize_axis(int axis) const {
    const int a = axis < 0 ? axis + rank_ : axis;
    if (a < 0 || a >= rank_)
      throw Error(ErrorKind::index,
                  "axis " + std::to_string(axis) + " is out of range for shape " + str());
    return a;
  }

  /// This shape with `axis` removed (keepdim = false) or set to 1 (keepdim = true).
  Shape reduced(int axis, bool keepdim) const {
    const int a = normalize_axis(axis);
    Shape s;
    for (int i = 0; i < rank_; ++i) {
      if (i != a) s.push_back(dims_[static_cast<std::size_t>(i)]);
      else if (keepdim) s.push_back(1);
    }
    return s;
  }

  /// Appends a dimension; throws past kMaxRank or for a negative size.
  void push_back(Index d) {
    if (rank_ == kMaxRank)
      throw Error(ErrorKind::shape, "Shape: cannot append to " + str() + ": rank would exceed " +
                                        std::to_string(kMaxRank));
    if (d < 0) throw Error(ErrorKind::shape, "Shape: negative dimension " + std::to_string(d));
    dims_[static_cast<std::size_t>(rank_++)] = d;
  }

  /// "[8, 128, 512]"; "[]" for a scalar.
  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < rank_; ++i) {
      if (i) s += ", ";
      s += std::to_string(dims_[static_cast<std::size_t>(i)]);
    }
    return s + "]";
  }

  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.dims_[static_cast<std::size_t>(i)] != b.dims_[static_cast<std::size_t>(i)]) return false;
    return true;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  std::array<Index, kMaxRank> dims_{};
  int rank_ = 0;
};

}  // namespace everlora

#endif  // EVERLORA_CORE_SHAPE_HPP
