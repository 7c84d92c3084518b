// everlora tests — loader for golden reference values (tests/fixtures/core_golden.txt).
//
// The file is produced offline by tools/make_golden.py (PyTorch, float64); the tests read it
// with this header and need no Python. One record per line, whitespace-separated; blank lines
// and lines starting with '#' are skipped:
//
//   case <name>
//   param <key> <number>                           scalar op parameters (eps, axis, n_heads, ...)
//   in <name> <rank> <d0> .. <dk-1> <values..>     differentiable float inputs, row-major
//   int <name> <rank> <dims..> <values..>          integer inputs (ids, targets, masks)
//   weight <rank> <dims..> <values..>              projection w, same shape as out
//   out [<name>] <rank> <dims..> <values..>        op output (name defaults to "out")
//   grad <name> <rank> <dims..> <values..>         d/d(in <name>) of sum(out * weight)
//   end
//
// Rank 0 is a scalar: no dims, one value. Floats are written with %.17g, so strtod reads back
// the exact doubles PyTorch computed (the C locale's '.' decimal point is assumed).
// Malformed input throws std::runtime_error naming file:line; a missing key asked of a case
// throws std::runtime_error naming the case and the key.
#ifndef EVERLORA_TEST_SUPPORT_GOLDEN_HPP
#define EVERLORA_TEST_SUPPORT_GOLDEN_HPP

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace everlora_test {

struct GoldenTensor {
  std::string name;
  std::vector<long> shape;     // empty for a scalar (rank 0)
  std::vector<double> values;  // row-major; integer records hold exact integers

  std::size_t rank() const { return shape.size(); }
  long numel() const {
    long n = 1;
    for (long d : shape) n *= d;
    return n;
  }
  /// The values converted element by element (e.g. as<std::int32_t>() for targets).
  template <class T>
  std::vector<T> as() const {
    std::vector<T> r;
    r.reserve(values.size());
    for (double v : values) r.push_back(static_cast<T>(v));
    return r;
  }
};

struct GoldenCase {
  std::string name;
  std::map<std::string, GoldenTensor> in, ints, out, grad;
  GoldenTensor weight;
  std::map<std::string, double> params;

  const GoldenTensor& input(const std::string& key) const { return find(in, key, "input"); }
  const GoldenTensor& integer(const std::string& key) const { return find(ints, key, "int input"); }
  const GoldenTensor& output(const std::string& key = "out") const { return find(out, key, "output"); }
  const GoldenTensor& gradient(const std::string& key) const { return find(grad, key, "grad"); }

  double param(const std::string& key) const {
    const auto it = params.find(key);
    if (it == params.end()) throw missing("param", key, keys(params));
    return it->second;
  }
  /// A parameter that must be an integer (axis, n_heads, ignore_index, ...).
  long int_param(const std::string& key) const {
    const double v = param(key);
    if (v != std::floor(v))
      throw std::runtime_error("golden case '" + name + "': param '" + key + "' is not an integer");
    return static_cast<long>(v);
  }

  bool has_input(const std::string& key) const { return in.count(key) != 0; }
  bool has_int(const std::string& key) const { return ints.count(key) != 0; }
  bool has_grad(const std::string& key) const { return grad.count(key) != 0; }
  bool has_param(const std::string& key) const { return params.count(key) != 0; }

 private:
  template <class Map>
  static std::string keys(const Map& m) {
    std::string s;
    for (const auto& kv : m) s += (s.empty() ? "" : ", ") + kv.first;
    return s.empty() ? "none" : s;
  }
  std::runtime_error missing(const char* what, const std::string& key, const std::string& have) const {
    return std::runtime_error("golden case '" + name + "': no " + what + " '" + key + "' (have: " +
                              have + ")");
  }
  const GoldenTensor& find(const std::map<std::string, GoldenTensor>& m, const std::string& key,
                           const char* what) const {
    const auto it = m.find(key);
    if (it == m.end()) throw missing(what, key, keys(m));
    return it->second;
  }
};

using GoldenFile = std::map<std::string, GoldenCase>;

/// The case called `name`, or std::runtime_error naming it.
inline const GoldenCase& golden_case(const GoldenFile& file, const std::string& name) {
  const auto it = file.find(name);
  if (it == file.end()) throw std::runtime_error("golden file has no case '" + name + "'");
  return it->second;
}

namespace golden_detail {

class LineReader {
 public:
  LineReader(const std::string& path, long line, const std::string& text) : path_(path), line_(line) {
    std::istringstream ss(text);
    std::string tok;
    while (ss >> tok) toks_.push_back(tok);
  }

  std::runtime_error error(const std::string& msg) const {
    return std::runtime_error(path_ + ":" + std::to_string(line_) + ": " + msg);
  }
  bool done() const { return pos_ >= toks_.size(); }
  std::size_t remaining() const { return toks_.size() - pos_; }
  const std::string& peek() const {
    if (done()) throw error("unexpected end of line");
    return toks_[pos_];
  }
  std::string word(const char* what) {
    if (done()) throw error(std::string("missing ") + what);
    return toks_[pos_++];
  }
  static bool parse_integer(const std::string& s, long long& out) {
    if (s.empty()) return false;
    errno = 0;
    char* end = nullptr;
    out = std::strtoll(s.c_str(), &end, 10);
    return errno == 0 && end == s.c_str() + s.size();
  }
  long long integer(const char* what) {
    const std::string s = word(what);
    long long v = 0;
    if (!parse_integer(s, v)) throw error(std::string("bad ") + what + " '" + s + "' (want an integer)");
    return v;
  }
  double number(const char* what) {
    const std::string s = word(what);
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE)
      throw error(std::string("bad ") + what + " '" + s + "' (want a number)");
    return v;
  }
  void finish() const {
    if (!done()) throw error("unexpected trailing field '" + toks_[pos_] + "'");
  }

 private:
  std::string path_;
  long line_;
  std::vector<std::string> toks_;
  std::size_t pos_ = 0;
};

/// <rank> <dims..> <values..> up to the end of the line.
inline GoldenTensor read_tensor(LineReader& r, const std::string& name, bool integers) {
  GoldenTensor t;
  t.name = name;
  const long long rank = r.integer("rank");
  if (rank < 0 || rank > 16) throw r.error("rank " + std::to_string(rank) + " out of range");
  long long n = 1;
  for (long long i = 0; i < rank; ++i) {
    const long long d = r.integer("dimension");
    if (d < 0 || d > (1LL << 30)) throw r.error("dimension " + std::to_string(d) + " out of range");
    t.shape.push_back(static_cast<long>(d));
    n *= d;
    if (n > (1LL << 30)) throw r.error("tensor '" + name + "' is too large");
  }
  if (static_cast<long long>(r.remaining()) != n)
    throw r.error("tensor '" + name + "' needs " + std::to_string(n) + " values, line has " +
                  std::to_string(r.remaining()));
  t.values.reserve(static_cast<std::size_t>(n));
  for (long long i = 0; i < n; ++i)
    t.values.push_back(integers ? static_cast<double>(r.integer("integer value")) : r.number("value"));
  return t;
}

inline std::string shape_str(const std::vector<long>& s) {
  std::string r = "[";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace golden_detail

/// Reads every case of a golden file, keyed by case name.
inline GoldenFile load_golden(const std::string& path) {
  using golden_detail::LineReader;
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open golden file '" + path + "'");

  GoldenFile cases;
  GoldenCase cur;
  bool open = false, have_weight = false;
  long case_line = 0, line_no = 0;
  std::string line;

  auto add = [](std::map<std::string, GoldenTensor>& m, GoldenTensor t, const LineReader& r,
                const char* what) {
    if (m.count(t.name)) throw r.error(std::string("duplicate ") + what + " '" + t.name + "'");
    const std::string key = t.name;
    m.emplace(key, std::move(t));
  };

  while (std::getline(f, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;

    LineReader r(path, line_no, line);
    const std::string kind = r.word("record kind");
    if (kind == "case") {
      if (open) throw r.error("'case' inside case '" + cur.name + "' (missing 'end')");
      cur = GoldenCase();
      cur.name = r.word("case name");
      r.finish();
      if (cases.count(cur.name)) throw r.error("duplicate case '" + cur.name + "'");
      open = true;
      have_weight = false;
      case_line = line_no;
      continue;
    }
    if (!open) throw r.error("'" + kind + "' record outside a case");

    if (kind == "param") {
      const std::string key = r.word("param name");
      const double v = r.number("param value");
      r.finish();
      if (!cur.params.emplace(key, v).second) throw r.error("duplicate param '" + key + "'");
    } else if (kind == "in") {
      const std::string name = r.word("tensor name");
      add(cur.in, golden_detail::read_tensor(r, name, false), r, "in");
    } else if (kind == "int") {
      const std::string name = r.word("tensor name");
      add(cur.ints, golden_detail::read_tensor(r, name, true), r, "int");
    } else if (kind == "grad") {
      const std::string name = r.word("tensor name");
      add(cur.grad, golden_detail::read_tensor(r, name, false), r, "grad");
    } else if (kind == "out") {
      long long ignored = 0;
      const std::string name = LineReader::parse_integer(r.peek(), ignored) ? "out" : r.word("name");
      add(cur.out, golden_detail::read_tensor(r, name, false), r, "out");
    } else if (kind == "weight") {
      if (have_weight) throw r.error("duplicate 'weight'");
      cur.weight = golden_detail::read_tensor(r, "weight", false);
      have_weight = true;
    } else if (kind == "end") {
      r.finish();
      if (cur.out.empty()) throw r.error("case '" + cur.name + "' has no 'out'");
      if (!have_weight) throw r.error("case '" + cur.name + "' has no 'weight'");
      if (cur.out.size() == 1 && cur.weight.shape != cur.out.begin()->second.shape)
        throw r.error("case '" + cur.name + "': weight " + golden_detail::shape_str(cur.weight.shape) +
                      " and out " + golden_detail::shape_str(cur.out.begin()->second.shape) + " differ");
      for (const auto& g : cur.grad) {
        const auto it = cur.in.find(g.first);
        if (it == cur.in.end()) throw r.error("case '" + cur.name + "': grad '" + g.first + "' has no 'in'");
        if (it->second.shape != g.second.shape)
          throw r.error("case '" + cur.name + "': grad '" + g.first + "' " +
                        golden_detail::shape_str(g.second.shape) + " and its input " +
                        golden_detail::shape_str(it->second.shape) + " differ");
      }
      const std::string name = cur.name;
      cases.emplace(name, std::move(cur));
      cur = GoldenCase();
      open = false;
    } else {
      throw r.error("unknown record '" + kind + "'");
    }
  }
  if (f.bad()) throw std::runtime_error(path + ": read error");
  if (open)
    throw std::runtime_error(path + ":" + std::to_string(case_line) + ": case '" + cur.name +
                             "' is not closed by 'end'");
  return cases;
}

}  // namespace everlora_test

#endif  // EVERLORA_TEST_SUPPORT_GOLDEN_HPP
