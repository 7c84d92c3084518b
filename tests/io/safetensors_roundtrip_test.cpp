// safetensors writing and reading: bit-exact round trips, metadata, the reference's byte layout,
// an independent check of the reference rules, half/bfloat16 decoding, and a reference fixture.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "everlora/io/safetensors.hpp"
#include "io/io_support.hpp"
#include "io/reference_rules.hpp"

using namespace everlora;
using everlora_test::le_bytes;
using everlora_test::reference_rule_violations;
using everlora_test::st_image;
using everlora_test::TempDir;

namespace {

/// Values that stress the encoding: signed zero, infinities, NaN, the smallest subnormal, extremes.
template <class T>
std::vector<T> special_values() {
  using L = std::numeric_limits<T>;
  return {T(0),           -T(0),           T(1) / T(3), -T(2.5),     L::infinity(), -L::infinity(),
          L::quiet_NaN(), L::denorm_min(), L::max(),    L::lowest(), L::min(),      T(1e-3)};
}

template <class T>
bool same_bits(const Tensor<T>& a, const Tensor<T>& b) {
  if (a.shape() != b.shape()) return false;
  return a.numel() == 0 ||
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.numel()) * sizeof(T)) == 0;
}

/// The violations as one string, so that a failed CHECK prints them.
std::string joined(const std::vector<std::string>& violations) {
  std::string out;
  for (const auto& v : violations) out += v + "; ";
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("save_safetensors then load_safetensors is bit-exact", "[io][safetensors]",
                   float, double) {
  using T = TestType;
  Rng rng(7);
  StateDict<T> sd;
  sd.emplace("layer.weight", Tensor<T>::from_vector({3, 4}, special_values<T>()));
  sd.emplace("layer.bias", Tensor<T>::normal({4}, rng, T(0), T(1)));
  sd.emplace("a.scalar", Tensor<T>::scalar(T(-7.25)));  // rank 0
  sd.emplace("empty", Tensor<T>::zeros({0, 3}));        // zero elements (the reference allows it)
  sd.emplace("rank4", Tensor<T>::uniform({1, 2, 3, 2}, rng, T(-1), T(1)));

  TempDir dir;
  const std::string path = dir.file("tensors.safetensors");
  save_safetensors(path, sd);
  const auto file = load_safetensors<T>(path);
  CHECK(file.metadata.empty());
  REQUIRE(file.tensors.size() == sd.size());
  for (const auto& [name, t] : sd) {
    INFO(name);
    REQUIRE(file.tensors.count(name) == 1);
    CHECK(same_bits(t, file.tensors.at(name)));
    CHECK(file.dtypes.at(name) == (std::is_same_v<T, float> ? "F32" : "F64"));
  }
  CHECK(file.tensors.at("a.scalar").rank() == 0);
  CHECK(file.tensors.at("empty").shape() == Shape{0, 3});
  // The file is exactly the in-memory image.
  CHECK(read_file(path) == to_safetensors_bytes(sd));
  CHECK(dir.entries() == std::set<std::string>{"tensors.safetensors"});
}

TEST_CASE("Metadata round-trips with escapes and unicode and an empty key", "[io][safetensors]") {
  const SafetensorsMetadata meta = {{"format", "pt"},
                                    {"note",
                                     "\xc3\xbcn\xc3\xaf"
                                     "code \xe2\x9c\x93 \"quoted\" back\\slash"},
                                    {"multi", "line one\nline\ttwo\x01"},
                                    {"", "empty key"}};
  StateDict<float> sd;
  sd.emplace("w", Tensor<float>::ones({2}));
  const auto file = from_safetensors_bytes<float>(to_safetensors_bytes(sd, meta));
  CHECK(file.metadata == meta);

  // No tensors at all is a valid file too.
  const auto only_meta =
      from_safetensors_bytes<double>(to_safetensors_bytes(StateDict<double>{}, meta));
  CHECK(only_meta.tensors.empty());
  CHECK(only_meta.metadata == meta);
}

TEST_CASE("The writer reproduces the reference serializer's bytes", "[io][safetensors]") {
  // Expected images from the reference's own serialization tests (tensor.rs).
  CHECK(to_safetensors_bytes(StateDict<float>{}) == le_bytes(8, 8) + "{}      ");
  CHECK(to_safetensors_bytes(StateDict<float>{}, {{"framework", "pt"}}) ==
        le_bytes(40, 8) + "{\"__metadata__\":{\"framework\":\"pt\"}}     ");

  const std::vector<float> values = {0, 1, 2, 3, 4, 5};
  std::string data;
  for (float v : values) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    data += le_bytes(bits, 4);
  }
  StateDict<float> one;
  one.emplace("attn.0", Tensor<float>::from_vector({1, 2, 3}, values));
  const std::string h1 =
      "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
  REQUIRE(h1.size() == 64);  // already a multiple of 8: no padding
  CHECK(to_safetensors_bytes(one) == le_bytes(64, 8) + h1 + data);

  StateDict<float> forced;
  forced.emplace("attn0", Tensor<float>::from_vector({1, 1, 2, 3}, values));
  const std::string h2 =
      "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}";
  REQUIRE(h2.size() == 65);  // padded with 7 spaces to 72
  CHECK(to_safetensors_bytes(forced) == le_bytes(72, 8) + h2 + "       " + data);
}

TEMPLATE_TEST_CASE("Files everlora writes pass an independent check of the reference rules",
                   "[io][safetensors]", float, double) {
  using T = TestType;
  Rng rng(3);
  StateDict<T> sd;
  for (const char* name : {"z.last", "a.first", "m.middle", "blocks.10.w", "blocks.2.w"})
    sd.emplace(name, Tensor<T>::normal({3, 5}, rng, T(0), T(1)));
  sd.emplace("scalar", Tensor<T>::scalar(T(1)));
  sd.emplace("zero", Tensor<T>::zeros({4, 0}));
  sd.emplace("\xc3\xbcnicode \"name\"", Tensor<T>::ones({2}));
  for (const SafetensorsMetadata& meta :
       {SafetensorsMetadata{}, SafetensorsMetadata{{"format", "pt"}, {"k", "v\n\"x\""}}}) {
    CHECK(joined(reference_rule_violations(to_safetensors_bytes(sd, meta))) == "");
  }
  CHECK(joined(reference_rule_violations(to_safetensors_bytes(StateDict<T>{}))) == "");
}

TEST_CASE("F16 and BF16 decode to hand-computed values", "[io][safetensors]") {
  const std::vector<std::uint16_t> half = {0x0001, 0x03FF, 0x0400, 0x3C00, 0xC000, 0x7BFF,
                                           0x7C00, 0xFC00, 0x8000, 0x3555, 0x7E00, 0x0200};
  const std::vector<std::uint16_t> bf16 = {0x3F80, 0xC040, 0x0001, 0x007F, 0x7F80,
                                           0xFF80, 0x7FC0, 0x7F7F, 0x3EAB, 0x8000};
  std::string data;
  for (auto b : half) data += le_bytes(b, 2);
  for (auto b : bf16) data += le_bytes(b, 2);
  const std::string image = st_image(
      "{\"h\":{\"dtype\":\"F16\",\"shape\":[12],\"data_offsets\":[0,24]},"
      "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,5],\"data_offsets\":[24,44]}}",
      data);
  const auto f = from_safetensors_bytes<double>(image);
  const auto& h = f.tensors.at("h");
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(h[0] == 5.9604644775390625e-08);  // 2^-24, the smallest subnormal
  CHECK(h[1] == 6.097555160522461e-05);   // 1023 * 2^-24, the largest subnormal
  CHECK(h[2] == 6.103515625e-05);         // 2^-14, the smallest normal
  CHECK(h[3] == 1.0);
  CHECK(h[4] == -2.0);
  CHECK(h[5] == 65504.0);  // the largest finite half
  CHECK(h[6] == inf);
  CHECK(h[7] == -inf);
  CHECK(h[8] == 0.0);
  CHECK(std::signbit(h[8]));      // -0 keeps its sign
  CHECK(h[9] == 0.333251953125);  // 1365 / 4096
  CHECK(std::isnan(h[10]));
  CHECK(h[11] == 3.0517578125e-05);  // 2^-15, a subnormal
  const auto& b = f.tensors.at("b");
  CHECK(b.shape() == Shape{2, 5});
  CHECK(b[0] == 1.0);
  CHECK(b[1] == -3.0);
  CHECK(b[2] == 9.183549615799121e-41);  // 2^-133, a float subnormal
  CHECK(b[3] == 127 * 9.183549615799121e-41);
  CHECK(b[4] == inf);
  CHECK(b[5] == -inf);
  CHECK(std::isnan(b[6]));
  CHECK(b[7] == 3.3895313892515355e+38);  // the largest finite bfloat16
  CHECK(b[8] == 0.333984375);             // 171 / 512
  CHECK((b[9] == 0.0 && std::signbit(b[9])));
  CHECK(f.dtypes.at("h") == "F16");
  CHECK(f.dtypes.at("b") == "BF16");

  // As float: the same values (every half and bfloat16 is a float).
  const auto g = from_safetensors_bytes<float>(image);
  for (Index i = 0; i < 12; ++i)
    if (!std::isnan(h[i])) CHECK(g.tensors.at("h")[i] == static_cast<float>(h[i]));
  CHECK(g.tensors.at("b")[2] == std::ldexp(1.0f, -133));
}

TEST_CASE("F64 read as float rounds to nearest and overflows to infinity", "[io][safetensors]") {
  const double fmax = std::numeric_limits<float>::max();
  const std::vector<double> values = {
      1.0 / 3.0,      1e300,  -1e300, fmax + 0x1p102,
      fmax + 0x1p103, 5e-324, -0.0,   std::numeric_limits<double>::quiet_NaN()};
  StateDict<double> sd;
  sd.emplace("x", Tensor<double>::from_vector({8}, values));
  const auto f = from_safetensors_bytes<float>(to_safetensors_bytes(sd));
  const auto& x = f.tensors.at("x");
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(x[0] == 0.333333343f);
  CHECK(x[1] == inf);
  CHECK(x[2] == -inf);
  CHECK(x[3] == std::numeric_limits<float>::max());  // below the halfway point: rounds down
  CHECK(x[4] == inf);                                // the halfway point: ties to even = inf
  CHECK(x[5] == 0.0f);
  CHECK(std::signbit(x[6]));
  CHECK(std::isnan(x[7]));
  // F32 read as double is exact.
  StateDict<float> sf;
  sf.emplace("y", Tensor<float>::from_vector({2}, {0.1f, -3e-45f}));
  const auto d = from_safetensors_bytes<double>(to_safetensors_bytes(sf));
  CHECK(d.tensors.at("y")[0] == static_cast<double>(0.1f));
  CHECK(d.tensors.at("y")[1] == static_cast<double>(-3e-45f));
}

TEMPLATE_TEST_CASE("A fixture written by the reference rules loads with the expected values",
                   "[io][safetensors]", float, double) {
  using T = TestType;
  const std::string path = EVERLORA_TEST_FIXTURES_DIR "/reference_fixture.safetensors";
  CHECK(joined(reference_rule_violations(read_file(path))) == "");  // agrees with the Python writer

  const auto file = load_safetensors<T>(path);
  std::ifstream in(EVERLORA_TEST_FIXTURES_DIR "/reference_fixture_expected.txt");
  REQUIRE(in);
  SafetensorsMetadata meta;
  std::size_t tensors = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string kind, name;
    ss >> kind >> name;
    if (kind == "meta") {
      ss >> meta[name];
      continue;
    }
    INFO("tensor " << name);
    ++tensors;
    std::string dtype;
    int rank = 0;
    ss >> dtype >> rank;
    std::vector<Index> dims(static_cast<std::size_t>(rank));
    for (auto& d : dims) ss >> d;
    REQUIRE(file.tensors.count(name) == 1);
    const Tensor<T>& t = file.tensors.at(name);
    CHECK(file.dtypes.at(name) == dtype);
    CHECK(t.shape() == Shape::from(dims.data(), rank));
    for (Index i = 0; i < t.numel(); ++i) {
      std::string word;
      REQUIRE(ss >> word);
      const double expected = std::strtod(word.c_str(), nullptr);
      INFO("element " << i << " expected " << word << " got " << t[i]);
      if (std::isnan(expected))
        CHECK(std::isnan(t[i]));
      else
        CHECK(t[i] == static_cast<T>(expected));
    }
  }
  CHECK(tensors == file.tensors.size());
  CHECK(file.metadata == meta);
  CHECK(file.metadata.at("format") == "pt");
}
