// everlora — tokenizer internals: the BPE "model" of tokenizer.json: vocab, merges ("a b" strings
// or [a, b] pairs), unk_token, fuse_unk, byte_fallback (<0xNN> tokens), ignore_merges,
// continuing_subword_prefix and end_of_word_suffix. A piece starts as one symbol per character
// (per byte for byte-level BPE, whose vocabulary is read back into raw bytes at load), then the
// lowest-ranked adjacent pair is merged, leftmost first, until no pair has a merge: the Rust
// tokenizers' Word::merge_all, on ids, with a heap.
#ifndef EVERLORA_DATA_DETAIL_TOKENIZER_BPE_HPP
#define EVERLORA_DATA_DETAIL_TOKENIZER_BPE_HPP

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "everlora/data/detail/tokenizer_byte_level.hpp"
#include "everlora/data/detail/tokenizer_json.hpp"
#include "everlora/data/detail/tokenizer_tables.hpp"
#include "everlora/data/detail/tokenizer_unicode.hpp"

namespace everlora::detail::tok {

/// Per-call working memory of the merge loop (reused across the pieces of one encode).
struct BpeScratch {
  struct Symbol {
    std::int32_t id, prev, next;
    bool alive;
  };
  struct Candidate {
    std::uint32_t rank;
    std::int32_t pos, id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
  std::vector<std::int32_t> ids;
};

class BpeModel {
 public:
  /// From the "model" object. byte_level: the pre-tokenizer is ByteLevel, so pieces are raw bytes.
  static BpeModel from_json(const Json& j, bool byte_level, const Where& at) {
    BpeModel m;
    m.byte_level_ = byte_level;
    m.fuse_unk_ = bool_or(j, "fuse_unk", false, at);
    m.byte_fallback_ = bool_or(j, "byte_fallback", false, at);
    m.ignore_merges_ = bool_or(j, "ignore_merges", false, at);
    m.prefix_ = string_or(j, "continuing_subword_prefix", "", at);
    m.suffix_ = string_or(j, "end_of_word_suffix", "", at);
    if (byte_level && (!m.prefix_.empty() || !m.suffix_.empty()))
      (at / "continuing_subword_prefix").fail("with a ByteLevel pre-tokenizer: a subword prefix or suffix is not supported there");
    if (const Json* d = find(j, "dropout"); d && !(d->is_number() && d->get<double>() == 0.0))
      (at / "dropout").fail("is " + show(*d) + ": BPE dropout (random merges) is not supported");
    m.read_vocab(require(j, "vocab", at), at / "vocab");
    m.read_merges(array_at(j, "merges", at), at / "merges");
    if (const Json* u = find(j, "unk_token")) {
      if (!u->is_string()) (at / "unk_token").fail("is " + show(*u) + ", not a string");
      auto it = m.vocab_.find(u->get<std::string>());
      if (it == m.vocab_.end()) (at / "unk_token").fail("is \"" + u->get<std::string>() + "\", which is not in the vocab");
      m.unk_ = it->second;
    }
    m.build_initial_tables();
    return m;
  }

  /// token → id over the model's vocab (as written in the file).
  const std::unordered_map<std::string, std::int32_t>& vocab() const { return vocab_; }
  std::optional<std::int32_t> unk_id() const { return unk_; }

  /// Appends the ids of one piece to `out`.
  void encode(std::string_view piece, std::vector<std::int32_t>& out, BpeScratch& scratch) const {
    if (piece.empty()) return;
    if (ignore_merges_) {
      const auto& map = byte_level_ ? raw_vocab_ : vocab_;
      auto it = map.find(std::string(piece));
      if (it != map.end()) {
        out.push_back(it->second);
        return;
      }
    }
    if (cache_->get(piece, out)) return;
    init_symbols(piece, scratch);
    merge_all(scratch);
    const std::size_t first = out.size();
    for (const auto& s : scratch.symbols)
      if (s.alive) out.push_back(s.id);
    cache_->put(piece, out.data() + first, out.size() - first);
  }

 private:
  void read_vocab(const Json& v, const Where& at) {
    if (!v.is_object()) at.fail("is " + show(v) + ", not an object of token: id");
    vocab_.reserve(v.size());
    std::unordered_map<std::int32_t, const std::string*> owner;
    owner.reserve(v.size());
    std::string raw;
    for (auto it = v.begin(); it != v.end(); ++it) {
      const Where key{at.source, at.key + "[" + Json(it.key()).dump() + "]"};
      const std::int32_t id = id_of(it.value(), key);
      auto [pos, fresh] = vocab_.emplace(it.key(), id);
      if (!fresh) key.fail("appears twice");
      auto [o, new_id] = owner.emplace(id, &pos->first);
      if (!new_id) key.fail("has id " + std::to_string(id) + ", already the id of " + Json(*o->second).dump());
      if (byte_level_ && byte_level_to_bytes(it.key(), raw)) raw_vocab_.emplace(raw, id);
    }
  }

  void read_merges(const Json& list, const Where& at) {
    merges_.reserve(list.size());
    std::string a, b;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Json& m = list[i];
      const Where w = at[i];
      if (m.is_string()) {
        const std::string& s = m.get_ref<const std::string&>();
        const std::size_t space = s.find(' ');
        if (space == std::string::npos) w.fail("is " + show(m) + ", not a merge \"a b\"");
        a = s.substr(0, space), b = s.substr(space + 1);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        a = m[0].get<std::string>(), b = m[1].get<std::string>();
      } else {
        w.fail("is " + show(m) + ", not a merge (\"a b\" or [\"a\", \"b\"])");
      }
      const std::int32_t ia = lookup(a, w), ib = lookup(b, w);
      std::string merged = a + (prefix_.empty() || b.compare(0, prefix_.size(), prefix_) != 0 ? b : b.substr(prefix_.size()));
      const std::int32_t im = lookup(merged, w);
      merges_.set(ia, ib, Merge{static_cast<std::uint32_t>(i), im});
    }
  }

  std::int32_t lookup(const std::string& token, const Where& w) const {
    auto it = vocab_.find(token);
    if (it == vocab_.end()) w.fail("names the token " + Json(token).dump() + ", which is not in the vocab");
    return it->second;
  }

  /// The initial symbols of each byte (byte-level) and of each code point below U+10000.
  void build_initial_tables() {
    cache_ = std::make_shared<WordCache>();
    if (byte_level_) {
      for (int b = 0; b < 256; ++b) {
        std::string ch;
        append_utf8(ch, byte_to_cp()[static_cast<std::size_t>(b)]);
        byte_init_[static_cast<std::size_t>(b)] = char_symbols(ch);
      }
    } else {
      bmp_id_.assign(0x10000, -2);  // -2: not looked up yet
      for (const auto& [token, id] : vocab_) {
        std::size_t i = 0;
        if (token.empty()) continue;
        const std::uint32_t cp = next_cp(token, i);
        if (i == token.size() && cp < 0x10000) bmp_id_[cp] = id;
      }
      for (auto& id : bmp_id_)
        if (id == -2) id = -1;
    }
  }

  /// The symbols of one character that is not in the vocab as itself: its <0xNN> tokens with
  /// byte_fallback (if all exist), else empty (an unknown character).
  std::vector<std::int32_t> fallback_symbols(std::string_view ch) const {
    std::vector<std::int32_t> ids;
    if (!byte_fallback_) return ids;
    static const char* hex = "0123456789ABCDEF";
    for (unsigned char c : ch) {
      const std::string code = std::string("<0x") + hex[c >> 4] + hex[c & 15] + ">";
      auto it = vocab_.find(code);
      if (it == vocab_.end()) return {};
      ids.push_back(it->second);
    }
    return ids;
  }

  std::vector<std::int32_t> char_symbols(const std::string& ch) const {
    auto it = vocab_.find(ch);
    if (it != vocab_.end()) return {it->second};
    return fallback_symbols(ch);
  }

  void push_symbol(BpeScratch& s, std::int32_t id) const {
    const auto n = static_cast<std::int32_t>(s.symbols.size());
    s.symbols.push_back({id, n - 1, n + 1, true});
  }

  /// Rust's merge_word: known characters become their id; unknown ones byte-fallback or unk
  /// (consecutive unknowns fused into one unk with fuse_unk).
  void init_symbols(std::string_view piece, BpeScratch& s) const {
    s.symbols.clear();
    bool pending_unk = false;
    auto flush_unk = [&] {
      if (pending_unk) push_symbol(s, *unk_);
      pending_unk = false;
    };
    auto unknown = [&] {
      if (!unk_) return;
      if (pending_unk && !fuse_unk_) push_symbol(s, *unk_);
      pending_unk = true;
    };
    if (byte_level_) {
      for (unsigned char c : piece) {
        const auto& ids = byte_init_[c];
        if (ids.empty()) {
          unknown();
          continue;
        }
        flush_unk();
        for (std::int32_t id : ids) push_symbol(s, id);
      }
    } else {
      std::size_t i = 0;
      std::string ch;
      while (i < piece.size()) {
        const std::size_t start = i;
        const std::uint32_t cp = next_cp(piece, i);
        const bool first = start == 0, last = i >= piece.size();
        std::int32_t id = -1;
        if (cp < 0x10000 && prefix_.empty() && suffix_.empty()) {
          id = bmp_id_[cp];
        } else {
          ch.assign(first ? "" : prefix_);
          ch.append(piece.substr(start, i - start));
          if (last) ch += suffix_;
          auto it = vocab_.find(ch);
          if (it != vocab_.end()) id = it->second;
        }
        if (id >= 0) {
          flush_unk();
          push_symbol(s, id);
          continue;
        }
        const std::vector<std::int32_t> fb = fallback_symbols(piece.substr(start, i - start));
        if (fb.empty()) {
          unknown();
          continue;
        }
        flush_unk();
        for (std::int32_t f : fb) push_symbol(s, f);
      }
    }
    flush_unk();
    if (!s.symbols.empty()) s.symbols.back().next = -1;
  }

  void merge_all(BpeScratch& s) const {
    auto& sym = s.symbols;
    const auto n = static_cast<std::int32_t>(sym.size());
    if (n < 2) return;
    auto& heap = s.heap;
    heap.clear();
    const auto cmp = std::greater<BpeScratch::Candidate>{};
    for (std::int32_t i = 0; i + 1 < n; ++i)
      if (const Merge* m = merges_.find(sym[static_cast<std::size_t>(i)].id, sym[static_cast<std::size_t>(i + 1)].id))
        heap.push_back({m->rank, i, m->id});
    std::make_heap(heap.begin(), heap.end(), cmp);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), cmp);
      const BpeScratch::Candidate top = heap.back();
      heap.pop_back();
      auto& left = sym[static_cast<std::size_t>(top.pos)];
      if (!left.alive || left.next < 0) continue;
      auto& right = sym[static_cast<std::size_t>(left.next)];
      const Merge* m = merges_.find(left.id, right.id);
      if (m == nullptr || m->id != top.id) continue;  // stale
      left.id = top.id;
      right.alive = false;
      left.next = right.next;
      if (right.next >= 0) sym[static_cast<std::size_t>(right.next)].prev = top.pos;
      if (left.prev >= 0)
        if (const Merge* pm = merges_.find(sym[static_cast<std::size_t>(left.prev)].id, left.id)) {
          heap.push_back({pm->rank, left.prev, pm->id});
          std::push_heap(heap.begin(), heap.end(), cmp);
        }
      if (left.next >= 0)
        if (const Merge* nm = merges_.find(left.id, sym[static_cast<std::size_t>(left.next)].id)) {
          heap.push_back({nm->rank, top.pos, nm->id});
          std::push_heap(heap.begin(), heap.end(), cmp);
        }
    }
  }

  std::unordered_map<std::string, std::int32_t> vocab_;      // as written in the file
  std::unordered_map<std::string, std::int32_t> raw_vocab_;  // byte-level: raw bytes → id
  MergeTable merges_;
  std::optional<std::int32_t> unk_;
  bool byte_level_ = false, fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  std::string prefix_, suffix_;
  std::array<std::vector<std::int32_t>, 256> byte_init_;
  std::vector<std::int32_t> bmp_id_;
  std::shared_ptr<WordCache> cache_;
};

}  // namespace everlora::detail::tok

#endif  // EVERLORA_DATA_DETAIL_TOKENIZER_BPE_HPP
