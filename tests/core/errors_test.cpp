// Every op rejects bad input with everlora::Error, naming the op and the shapes or values.
#include <catch2/catch.hpp>

#include <functional>

#include "everlora/core.hpp"

using namespace everlora;
using Tf = Tensor<float>;

namespace {
/// Requires `call` to throw Error of `kind` whose message contains every fragment.
void require_error(const std::function<void()>& call, ErrorKind kind,
                   const std::vector<std::string>& fragments) {
  try {
    call();
    FAIL("no error was thrown");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(e.kind() == kind);
    for (const auto& f : fragments) CHECK_THAT(e.what(), Catch::Contains(f));
  }
}
}  // namespace

TEST_CASE("matmul errors name the op and both shapes", "[core][errors]") {
  require_error([] { matmul(Tf::zeros({2, 3}), Tf::zeros({4, 5})); }, ErrorKind::shape,
                {"matmul", "[2, 3]", "[4, 5]", "inner dimensions 3 and 4"});
  require_error([] { matmul_nt(Tf::zeros({2, 3}), Tf::zeros({4, 5})); }, ErrorKind::shape,
                {"matmul_nt", "[4, 5]"});
  require_error([] { matmul(Tf::zeros({2, 3, 4}), Tf::zeros({3, 4, 5})); }, ErrorKind::shape,
                {"batch dimension 0"});
  require_error([] { matmul(Tf::zeros({3}), Tf::zeros({3, 2})); }, ErrorKind::shape, {"rank >= 2"});
}

TEST_CASE("broadcasting errors list what is supported", "[core][errors]") {
  require_error([] { add(Tf::zeros({2, 3}), Tf::zeros({2})); }, ErrorKind::shape,
                {"add", "[2, 3]", "[2]", "supported"});
  require_error([] { mul(Tf::zeros({2, 3, 4}), Tf::zeros({3, 4})); }, ErrorKind::shape, {"mul"});
}

TEST_CASE("shape-op errors name the axis, range and shapes", "[core][errors]") {
  require_error([] { slice(Tf::zeros({2, 3}), 1, 2, 5); }, ErrorKind::index, {"slice", "[2, 5)", "[2, 3]"});
  require_error([] { transpose(Tf::zeros({2, 3}), 0, 2); }, ErrorKind::index, {"axis 2", "[2, 3]"});
  require_error([] { concat<float>({Tf::zeros({2, 3}), Tf::zeros({3, 3})}, 1); }, ErrorKind::shape,
                {"concat", "[3, 3]", "[2, 3]"});
  require_error([] { concat<float>({}, 0); }, ErrorKind::shape, {"concat"});
  require_error([] { sum(Tf::zeros({2, 3}), 2); }, ErrorKind::index, {"axis 2"});
}

TEST_CASE("loss, norm, lookup and pooling errors", "[core][errors]") {
  require_error([] { cross_entropy(Tf::zeros({3, 4}), {0, 1}); }, ErrorKind::shape,
                {"cross_entropy", "[3, 4]", "2 targets"});
  require_error([] { cross_entropy(Tf::zeros({2, 4}), {0, 4}); }, ErrorKind::index,
                {"target 4", "row 1"});
  require_error([] { mse_loss(Tf::zeros({2}), Tf::zeros({3})); }, ErrorKind::shape, {"mse_loss"});
  require_error([] { layer_norm(Tf::zeros({2, 4}), Tf::ones({3}), Tf::zeros({3})); }, ErrorKind::shape,
                {"layer_norm", "[2, 4]", "[3]"});
  require_error([] { embedding(Tf::zeros({5, 2}), {1, 5}, {2}); }, ErrorKind::index,
                {"embedding", "id 5", "position 1", "5 rows"});
  require_error([] { embedding(Tf::zeros({5, 2}), {1, 2, 3}, {2}); }, ErrorKind::shape, {"3 ids"});
  require_error([] { mean_pool(Tf::zeros({1, 2, 3}), Tf::zeros({1, 2})); }, ErrorKind::value,
                {"mean_pool", "sequence 0"});
  require_error([] { max_pool(Tf::zeros({1, 2, 3}), Tf::ones({2, 1})); }, ErrorKind::shape, {"max_pool"});
}

TEST_CASE("attention and dropout reject bad configurations", "[core][errors]") {
  require_error([] { causal_attention(Tf::zeros({1, 4, 6}), Tf::zeros({1, 4, 6}), Tf::zeros({1, 4, 6}), 4); },
                ErrorKind::config, {"4 heads", "C = 6"});
  require_error([] { causal_attention(Tf::zeros({1, 5, 6}), Tf::zeros({1, 4, 6}), Tf::zeros({1, 4, 6}), 2); },
                ErrorKind::shape, {"Tk >= Tq"});
  require_error([] { causal_attention(Tf::zeros({1, 4, 6}), Tf::zeros({1, 4, 4}), Tf::zeros({1, 4, 4}), 3, 2); },
                ErrorKind::config, {"2 key/value heads", "3 query heads"});
  require_error([] { causal_attention(Tf::zeros({1, 4, 8}), Tf::zeros({1, 4, 8}), Tf::zeros({1, 4, 8}), 4, 2); },
                ErrorKind::shape, {"G·hd", "G = 2", "k [1, 4, 8]"});
  require_error([] { rms_norm(Tf::zeros({2, 4}), Tf::ones({3})); }, ErrorKind::shape, {"rms_norm", "[4]"});
  require_error([] { rope(Tf::zeros({1, 2, 6}), 2, Tf::zeros({2, 1}), Tf::zeros({2, 1})); }, ErrorKind::shape, {"rope", "even"});
  require_error([] { rope(Tf::zeros({1, 2, 8}), 2, Tf::zeros({3, 2}), Tf::zeros({3, 2})); }, ErrorKind::shape, {"rope", "[2, 2]"});
  Rng rng;
  require_error([&] { dropout(Tf::zeros({3}), 1.0, rng); }, ErrorKind::config, {"dropout", "p = 1"});
  require_error([&] { dropout(Tf::zeros({3}), -0.1, rng); }, ErrorKind::config, {"dropout"});
  require_error([] { set_num_threads(0); }, ErrorKind::config, {"set_num_threads"});
}
