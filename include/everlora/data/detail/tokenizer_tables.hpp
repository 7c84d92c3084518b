// everlora — tokenizer internals: the two lookup structures of the BPE hot loop. MergeTable maps a
// pair of token ids to its merge (rank, id of the merged token) in one open-addressing probe;
// WordCache remembers the ids of pieces already encoded, in mutex-guarded shards, so that
// concurrent const encode() calls share it safely.
#ifndef EVERLORA_DATA_DETAIL_TOKENIZER_TABLES_HPP
#define EVERLORA_DATA_DETAIL_TOKENIZER_TABLES_HPP

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace everlora::detail::tok {

/// A merge: its rank (priority, lower first) and the id of the token it makes.
struct Merge {
  std::uint32_t rank = 0;
  std::int32_t id = -1;
};

/// Pair of ids → Merge, open addressing with linear probing at load factor ≤ 1/2.
class MergeTable {
 public:
  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap < 2 * n + 2) cap *= 2;
    keys_.assign(cap, kEmpty);
    values_.assign(cap, Merge{});
    mask_ = cap - 1;
    size_ = 0;
  }

  /// Inserts or overwrites (a later duplicate merge replaces the earlier one, as in Rust's map).
  void set(std::int32_t a, std::int32_t b, Merge m) {
    if (2 * (size_ + 1) > keys_.size()) grow();
    const std::uint64_t key = pack(a, b);
    std::size_t i = slot(key);
    while (keys_[i] != kEmpty && keys_[i] != key) i = (i + 1) & mask_;
    if (keys_[i] == kEmpty) ++size_;
    keys_[i] = key;
    values_[i] = m;
  }

  /// The merge of (a, b), or nullptr.
  const Merge* find(std::int32_t a, std::int32_t b) const {
    if (keys_.empty()) return nullptr;
    const std::uint64_t key = pack(a, b);
    for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }

  std::size_t size() const { return size_; }

 private:
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
  static std::uint64_t pack(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
  }
  std::size_t slot(std::uint64_t key) const {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return static_cast<std::size_t>(key) & mask_;
  }
  void grow() {
    std::vector<std::uint64_t> keys;
    std::vector<Merge> values;
    keys.swap(keys_);
    values.swap(values_);
    reserve(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i)
      if (keys[i] != kEmpty)
        set(static_cast<std::int32_t>(keys[i] >> 32), static_cast<std::int32_t>(keys[i] & 0xffffffffu), values[i]);
  }

  std::vector<std::uint64_t> keys_;
  std::vector<Merge> values_;
  std::size_t mask_ = 0, size_ = 0;
};

/// Piece → ids, for pieces shorter than kMaxKey bytes, at most kShardCapacity per shard (then new
/// pieces are no longer remembered, as in the Rust tokenizers' capacity-bound cache).
class WordCache {
 public:
  static constexpr std::size_t kMaxKey = 64;
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kShardCapacity = 8192;

  /// Appends the cached ids of `piece` to `out`; false when it is not cached.
  bool get(std::string_view piece, std::vector<std::int32_t>& out) const {
    if (piece.size() >= kMaxKey) return false;
    const std::size_t h = std::hash<std::string_view>{}(piece);
    Shard& s = shards_[h % kShards];
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.map.find(std::string(piece));
    if (it == s.map.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
  }

  void put(std::string_view piece, const std::int32_t* ids, std::size_t n) const {
    if (piece.size() >= kMaxKey) return;
    const std::size_t h = std::hash<std::string_view>{}(piece);
    Shard& s = shards_[h % kShards];
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.map.size() >= kShardCapacity) return;
    s.map.emplace(std::string(piece), std::vector<std::int32_t>(ids, ids + n));
  }

 private:
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<std::int32_t>> map;
  };
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace everlora::detail::tok

#endif  // EVERLORA_DATA_DETAIL_TOKENIZER_TABLES_HPP
