// save_module / load_module: a module's parameters through a safetensors file, and errors that
// name the file and the tensor while leaving the module unchanged.
#include <catch2/catch.hpp>
#include <limits>

#include "everlora/io.hpp"
#include "everlora/nn/linear.hpp"
#include "io/io_support.hpp"

using namespace everlora;
using everlora_test::require_error;
using everlora_test::TempDir;

TEMPLATE_TEST_CASE("save_module then load_module gives a Linear identical outputs", "[io][module]",
                   float, double) {
  using T = TestType;
  Rng rng(11), other(99);
  Linear<T> saved(5, 3, true, rng), loaded(5, 3, true, other);
  const Tensor<T> x = Tensor<T>::normal({4, 5}, rng, T(0), T(1));
  REQUIRE(saved.forward(x).to_vector() != loaded.forward(x).to_vector());

  TempDir dir;
  const std::string path = dir.file("linear.safetensors");
  save_module(saved, path, {{"step", "42"}});
  load_module(loaded, path);
  CHECK(saved.forward(x).to_vector() == loaded.forward(x).to_vector());
  CHECK(loaded.weight().requires_grad());  // still a trainable parameter

  const auto file = load_safetensors<T>(path);
  CHECK(file.metadata == SafetensorsMetadata{{"format", "pt"}, {"step", "42"}});
  CHECK(file.tensors.at("weight").shape() == Shape{3, 5});  // PyTorch's [out, in]

  // A caller's own "format" wins.
  save_module(saved, path, {{"format", "everlora"}});
  CHECK(load_safetensors<T>(path).metadata.at("format") == "everlora");
}

TEST_CASE("A float module's file loads into a double module", "[io][module]") {
  Rng rng(5);
  Linear<float> f(4, 2, true, rng);
  Linear<double> d(4, 2, true, rng);
  TempDir dir;
  save_module(f, dir.file("f.safetensors"));
  load_module(d, dir.file("f.safetensors"));
  for (Index i = 0; i < f.weight().numel(); ++i) CHECK(d.weight()[i] == double(f.weight()[i]));
}

TEST_CASE("load_module errors name the file and the tensor and change nothing", "[io][module]") {
  Rng rng(1);
  TempDir dir;
  const std::string no_bias = dir.file("no_bias.safetensors");
  const std::string wide = dir.file("wide.safetensors");
  const std::string with_bias = dir.file("with_bias.safetensors");
  save_module(Linear<float>(4, 3, false, rng), no_bias);
  save_module(Linear<float>(6, 3, true, rng), wide);
  save_module(Linear<float>(4, 3, true, rng), with_bias);

  Linear<float> target(4, 3, true, rng);
  const auto before_w = target.weight().to_vector();
  const auto before_b = target.bias().to_vector();

  require_error([&] { load_module(target, no_bias); }, ErrorKind::format,
                {no_bias, "Linear", "'bias'", "missing"});
  require_error([&] { load_module(target, wide); }, ErrorKind::shape,
                {wide, "'weight'", "[3, 6]", "[3, 4]"});
  CHECK(target.weight().to_vector() == before_w);
  CHECK(target.bias().to_vector() == before_b);

  // Not strict: what is there is loaded, the rest keeps its values.
  load_module(target, no_bias, /*strict=*/false);
  CHECK(target.weight().to_vector() != before_w);
  CHECK(target.bias().to_vector() == before_b);

  // An extra tensor in the file is an error only when strict.
  Linear<float> plain(4, 3, false, rng);
  require_error([&] { load_module(plain, with_bias); }, ErrorKind::format,
                {with_bias, "'bias'", "not a parameter"});
  load_module(plain, with_bias, /*strict=*/false);
  CHECK(plain.weight().to_vector() ==
        load_safetensors<float>(with_bias).tensors.at("weight").to_vector());

  require_error([&] { load_module(plain, dir.file("absent.safetensors")); }, ErrorKind::io,
                {"absent.safetensors"});
}

TEST_CASE("load_module refuses a NaN or infinite weight, naming the tensor and index", "[io][module][errors]") {
  Rng rng(2);
  TempDir dir;
  Linear<float> source(4, 3, true, rng);
  source.bias()[2] = std::numeric_limits<float>::infinity();
  const std::string path = dir.file("inf.safetensors");
  save_module(source, path);
  Linear<float> target(4, 3, true, rng);
  const auto before = target.bias().to_vector();
  require_error([&] { load_module(target, path); }, ErrorKind::value, {path, "'bias'", "inf", "flat index 2"});
  CHECK(target.bias().to_vector() == before);
}
