// Prompts and batches on the byte tokenizer: the exact prompt format, encodings (with truncation
// that never cuts the output), the shifted and padded batch, answer normalisation, epoch order.
#include "everlora/data/prompt.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "data/data_support.hpp"
#include "everlora/core/ops/loss.hpp"

using namespace everlora;
using everlora_test::require_data_error;

namespace {

using Ids = std::vector<std::int32_t>;
constexpr std::int32_t kBos = ByteVocab::kBos, kEos = ByteVocab::kEos, kSep = ByteVocab::kSep,
                       kPad = ByteVocab::kPad;

Ids bytes(const std::string& s) { return encode_bytes(s); }
Ids cat(std::initializer_list<Ids> parts) {
  Ids out;
  for (const Ids& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TaskSpec spec_of(std::vector<std::string> labels = {},
                 TaskMetric metric = TaskMetric::exact_match) {
  return TaskSpec{"t", std::move(labels), metric};
}

}  // namespace

TEST_CASE("format_prompt is instruction, options, input and Output:", "[data][prompt]") {
  const Example ex{"Is it positive?", "I love it", "positive"};
  CHECK(format_prompt(ex, spec_of({"positive", "negative", "neutral"})) ==
        "Is it positive?\nOptions: positive, negative, neutral\nInput: I love it\nOutput:");
  CHECK(format_prompt(ex, spec_of()) == "Is it positive?\nInput: I love it\nOutput:");
  CHECK(format_prompt({"", "", "x"}, spec_of()) == "\nInput: \nOutput:");
}

TEST_CASE("encode_example: BOS, prompt, SEP, output, EOS with prompt_len at the output",
          "[data][prompt]") {
  const Example ex{"Do", "ab", "yes"};
  const std::string prompt = "Do\nInput: ab\nOutput:";
  const EncodedExample e = encode_example(ex, spec_of(), 64);
  CHECK(e.ids == cat({{kBos}, bytes(prompt), {kSep}, bytes("yes"), {kEos}}));
  CHECK(e.prompt_len == static_cast<Index>(prompt.size()) + 2);
  CHECK(e.ids[static_cast<std::size_t>(e.prompt_len)] == 'y');
  CHECK(encode_prompt(ex, spec_of(), 64) == cat({{kBos}, bytes(prompt), {kSep}}));
}

TEST_CASE("encode_example drops bytes from the start of the prompt, never from the output",
          "[data][prompt]") {
  const Example ex{"Do", "ab", "yes"};
  const std::string prompt = "Do\nInput: ab\nOutput:";  // 20 bytes
  // 10 tokens: BOS + the last 4 prompt bytes + SEP + 3 output bytes + EOS.
  const EncodedExample e = encode_example(ex, spec_of(), 10);
  CHECK(e.ids == cat({{kBos}, bytes("put:"), {kSep}, bytes("yes"), {kEos}}));
  CHECK(e.prompt_len == 6);
  // The output alone (with BOS, SEP, EOS) still fits: the prompt body is dropped entirely.
  CHECK(encode_example(ex, spec_of(), 6).ids == cat({{kBos, kSep}, bytes("yes"), {kEos}}));
  require_data_error([&] { encode_example(ex, spec_of(), 5); }, ErrorKind::value,
                     {"task 't'", "output of 3 tokens needs 6 tokens", "max_len is 5"});
  // encode_prompt keeps the end of the prompt within its own max_len.
  CHECK(encode_prompt(ex, spec_of(), 6) == cat({{kBos}, bytes("put:"), {kSep}}));
  CHECK(encode_prompt(ex, spec_of(), 2) == Ids{kBos, kSep});
  require_data_error([&] { encode_prompt(ex, spec_of(), 1); }, ErrorKind::value, {"max_len 1"});
}

TEST_CASE("encode_example for next_byte tasks reads the input with loss on every byte",
          "[data][prompt]") {
  const TaskSpec lm = spec_of({}, TaskMetric::next_byte);
  const Example ex{"ignored", "hello", ""};
  const EncodedExample e = encode_example(ex, lm, 64);
  CHECK(e.ids == cat({{kBos}, bytes("hello"), {kEos}}));
  CHECK(e.prompt_len == 1);
  CHECK(encode_example(ex, lm, 4).ids == cat({{kBos}, bytes("hel")}));
  require_data_error([&] { encode_example(ex, lm, 1); }, ErrorKind::value, {"max_len 1"});
  require_data_error([&] { encode_prompt(ex, lm, 64); }, ErrorKind::value,
                     {"next_byte", "no prompt"});
}

TEST_CASE("make_token_batch shifts, pads and masks, with targets on output tokens only",
          "[data][prompt]") {
  REQUIRE(kNoTarget == kIgnoreIndex);  // the data layer's copy of cross_entropy's ignore index
  const EncodedExample a{{kBos, 'p', kSep, 'o', 'k', kEos}, 3};  // trained on o, k, EOS
  const EncodedExample b{{kBos, 'x', 'y', kEos}, 1};             // next_byte: every next token
  const TokenBatch batch = make_token_batch({&a, &b});
  CHECK(batch.batch == 2);
  CHECK(batch.seq == 5);
  const std::int32_t N = kNoTarget;
  CHECK(batch.ids == Ids{kBos, 'p', kSep, 'o', 'k', /**/ kBos, 'x', 'y', kPad, kPad});
  CHECK(batch.targets == Ids{N, N, 'o', 'k', kEos, /**/ 'x', 'y', kEos, N, N});
  CHECK(batch.mask == std::vector<float>{1, 1, 1, 1, 1, /**/ 1, 1, 1, 0, 0});
}

TEST_CASE("make_token_batch refuses empty batches and examples with nothing to predict",
          "[data][prompt][errors]") {
  require_data_error([] { make_token_batch({}); }, ErrorKind::value, {"no examples"});
  const EncodedExample one{{kBos}, 1}, no_target{{kBos, 'a', kSep}, 3}, ok{{kBos, 'a'}, 1};
  require_data_error(
      [&] {
        make_token_batch({&ok, nullptr});
      },
      ErrorKind::value, {"example 1 is null"});
  require_data_error([&] { make_token_batch({&one}); }, ErrorKind::value,
                     {"example 0 has 1 tokens"});
  require_data_error(
      [&] {
        make_token_batch({&ok, &no_target});
      },
      ErrorKind::value, {"example 1", "prompt_len 3"});
}

TEST_CASE("Answers are compared trimmed and ASCII lower-cased", "[data][prompt]") {
  CHECK(normalise_answer("  Positive\r\n") == "positive");
  CHECK(normalise_answer("\t\v\f ") == "");
  CHECK(normalise_answer("A b  C") == "a b  c");
  CHECK(normalise_answer("\xc3\x89T\xc3\x89") == "\xc3\x89t\xc3\x89");  // only ASCII changes
  CHECK(exact_match("NOUN ", "noun"));
  CHECK(exact_match("\nverb", "Verb"));
  CHECK_FALSE(exact_match("nouns", "noun"));
  CHECK_FALSE(exact_match("", "noun"));
}

TEST_CASE("shuffled_order is a seeded permutation that changes with the epoch", "[data][prompt]") {
  const std::vector<Index> a = shuffled_order(100, 42, 0);
  std::vector<Index> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (Index i = 0; i < 100; ++i) CHECK(sorted[static_cast<std::size_t>(i)] == i);
  CHECK(shuffled_order(100, 42, 0) == a);
  CHECK(shuffled_order(100, 42, 1) != a);
  CHECK(shuffled_order(100, 43, 0) != a);
  CHECK(shuffled_order(0, 1, 0).empty());
  CHECK(shuffled_order(1, 1, 5) == std::vector<Index>{0});
  // Pinned: the same order on every platform and in every later version.
  CHECK(shuffled_order(10, 7, 3) == std::vector<Index>{1, 5, 6, 4, 7, 9, 2, 0, 8, 3});
  require_data_error([] { shuffled_order(-1, 0, 0); }, ErrorKind::value, {"n -1"});
  require_data_error([] { shuffled_order(3, 0, -2); }, ErrorKind::value, {"epoch -2"});
}
