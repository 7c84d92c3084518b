// The Tokenizer on small hand-made tokenizer.json files: the pieces the real files do not all
// exercise (Metaspace, unk and fuse_unk, added-token options, Split behaviors), and bad input,
// each an everlora::Error that names the file and the key.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/data_support.hpp"
#include "everlora/data/tokenizer.hpp"

namespace {

using everlora::ErrorKind;
using everlora::Tokenizer;
using Json = nlohmann::json;
using Ids = std::vector<std::int32_t>;

/// A byte-level BPE: the 256 byte symbols (ids 0-255), merges "h e", "he l", "hel l", "hell o",
/// "Ġ w", plus <|end|> as a special added token.
Json tiny_byte_level() {
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b)
    vocab[everlora::detail::tok::bytes_to_byte_level(std::string(1, static_cast<char>(b)))] = b;
  const std::vector<std::string> merged{"he", "hel", "hell", "hello", "\xC4\xA0w"};
  for (std::size_t i = 0; i < merged.size(); ++i) vocab[merged[i]] = 256 + static_cast<int>(i);
  return Json{{"version", "1.0"},
              {"added_tokens", Json::array({Json{{"id", 261}, {"content", "<|end|>"}, {"special", true}}})},
              {"normalizer", nullptr},
              {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
              {"post_processor", {{"type", "ByteLevel"}}},
              {"decoder", {{"type", "ByteLevel"}}},
              {"model",
               {{"type", "BPE"}, {"vocab", vocab},
                {"merges", Json::array({"h e", Json::array({"he", "l"}), "hel l", "hell o", "\xC4\xA0 w"})}}}};
}

/// A Metaspace BPE with byte fallback and an unk token, and <s> added by the template.
Json tiny_metaspace() {
  Json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}, {"\xE2\x96\x81", 3}, {"a", 4}, {"b", 5},
                {"\xE2\x96\x81" "a", 6}, {"ab", 7}, {"<0xC3>", 8}, {"<0xA9>", 9}};
  return Json{{"added_tokens", Json::array({Json{{"id", 1}, {"content", "<s>"}, {"special", true}},
                                            Json{{"id", 2}, {"content", "</s>"}, {"special", true}}})},
              {"normalizer", nullptr},
              {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"}, {"split", true}}},
              {"post_processor",
               {{"type", "TemplateProcessing"},
                {"single", Json::array({Json{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                        Json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", Json::array({1})}, {"tokens", Json::array({"<s>"})}}}}}}},
              {"decoder", {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"}}},
              {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", Json::array({"\xE2\x96\x81 a", "a b"})},
                         {"unk_token", "<unk>"}, {"fuse_unk", true}, {"byte_fallback", true}}}};
}

Tokenizer load(const Json& j, const std::string& config = {}) { return Tokenizer::from_json(j.dump(), config, "tiny.json"); }

void require_bad(const Json& j, ErrorKind kind, const std::vector<std::string>& fragments) {
  everlora_test::require_data_error([&] { load(j); }, kind, fragments);
}

}  // namespace

TEST_CASE("A tiny byte-level BPE merges by rank and splits out its special token", "[data][tokenizer]") {
  const Tokenizer tok = load(tiny_byte_level());
  CHECK(tok.model_kind() == "byte_level_bpe");
  CHECK(tok.vocab_size() == 262);
  CHECK(tok.encode("hello world") == Ids{259, 260, 'o', 'r', 'l', 'd'});
  CHECK(tok.encode("hello<|end|>hello") == Ids{259, 261, 259});
  CHECK(tok.decode({259, 261, 259}) == "hello<|end|>hello");
  CHECK(tok.decode({259, 261, 259}, true) == "hellohello");
  CHECK(tok.decode({0xE2}) == "\xEF\xBF\xBD");  // a lone byte of a character decodes to U+FFFD
  CHECK(tok.encode("") == Ids{});
  CHECK(tok.token_to_id("<|end|>") == 261);
  CHECK_FALSE(tok.token_to_id("nope").has_value());
  CHECK_FALSE(tok.bos_id().has_value());
  everlora_test::require_data_error([&] { tok.id_to_token(262); }, ErrorKind::index, {"262", "tiny.json"});
  CHECK(tok.decode({-1, 259, 100000}) == "hello");  // ids that are no token are left out, as in HF's tokenizers
  everlora_test::require_data_error([&] { tok.encode("\xFF"); }, ErrorKind::value, {"UTF-8", "byte 0"});
}

TEST_CASE("A tiny Metaspace BPE prepends the metaspace once, falls back to bytes and fuses unknowns", "[data][tokenizer]") {
  const Tokenizer tok = load(tiny_metaspace(), R"({"bos_token": {"content": "<s>"}, "eos_token": "</s>", "add_bos_token": true})");
  CHECK(tok.model_kind() == "metaspace_bpe");
  CHECK(tok.adds_bos());
  CHECK(tok.bos_id() == 1);
  CHECK(tok.eos_id() == 2);
  CHECK(tok.unk_id() == 0);
  CHECK(tok.encode("a ab", false) == Ids{6, 6, 5});  // "▁ a" ranks before "a b"
  CHECK(tok.encode("a ab") == Ids{1, 6, 6, 5});
  CHECK(tok.encode("\xC3\xA9", false) == Ids{3, 8, 9});  // é: not in the vocab, its bytes are
  CHECK(tok.encode("xyz", false) == Ids{3, 0});           // three unknown characters, one fused <unk>
  CHECK(tok.encode("</s>a", false) == Ids{2, 4});         // after a special token: no ▁ ("first")
  CHECK(tok.decode({6, 6, 5}) == "a ab");
  CHECK(tok.decode({1, 6, 6, 5}) == "<s> a ab");  // the decoder drops the metaspace of token 0 only
  Json llama_decoder = tiny_metaspace();
  llama_decoder["decoder"] = {{"type", "Sequence"},
                              {"decoders", Json::array({Json{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
                                                        Json{{"type", "ByteFallback"}}, Json{{"type", "Fuse"}},
                                                        Json{{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}};
  const Tokenizer llama = load(llama_decoder);
  CHECK(llama.decode({6, 6, 5, 3, 8, 9}) == "a ab \xC3\xA9");
  CHECK(llama.decode({3, 8}) == "\xEF\xBF\xBD");  // an incomplete byte run: U+FFFD per byte
}

TEST_CASE("Added tokens honour single_word, lstrip and rstrip", "[data][tokenizer]") {
  Json j = tiny_byte_level();
  j["added_tokens"] = Json::array({Json{{"id", 261}, {"content", "he"}, {"special", false}, {"normalized", false}, {"single_word", true}},
                                   Json{{"id", 262}, {"content", "<m>"}, {"special", true}, {"lstrip", true}, {"rstrip", true}}});
  const Tokenizer tok = load(j);
  CHECK(tok.encode("he hello") == Ids{261, ' ', 259});  // the second "he" is inside a word
  CHECK(tok.encode("x  <m>  y") == Ids{'x', 262, 'y'});
}

TEST_CASE("Split pre-tokenizer behaviors cut as the Rust library does", "[data][tokenizer]") {
  Json j = tiny_byte_level();
  auto split = [&](const std::string& behavior, bool invert) {
    Json s = j;
    s["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", Json::array({Json{{"type", "Split"}, {"pattern", {{"String", "-"}}},
                                                              {"behavior", behavior}, {"invert", invert}},
                                                         Json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
    s["model"]["merges"].push_back("l -");
    s["model"]["vocab"]["l-"] = 262;
    s["added_tokens"] = Json::array();
    return load(s).encode("l-l");
  };
  CHECK(split("Isolated", false) == Ids{'l', '-', 'l'});
  CHECK(split("Removed", false) == Ids{'l', 'l'});
  CHECK(split("MergedWithPrevious", false) == Ids{262, 'l'});
  CHECK(split("Removed", true) == Ids{'-'});
  CHECK(split("Contiguous", false) == Ids{'l', '-', 'l'});
}

TEST_CASE("Bad tokenizer.json files are errors naming the file and the key", "[data][tokenizer]") {
  everlora_test::require_data_error([] { Tokenizer::from_json("{\"model\": ", "", "broken.json"); },
                                    ErrorKind::format, {"broken.json", "invalid JSON"});
  Json j = tiny_byte_level();
  j["model"]["type"] = "WordPiece";
  require_bad(j, ErrorKind::config, {"tiny.json", "model.type", "WordPiece", "BPE"});
  j["model"]["type"] = "Unigram";
  require_bad(j, ErrorKind::config, {"model.type", "Unigram"});
  j = tiny_byte_level();
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  require_bad(j, ErrorKind::config, {"tiny.json", "pre_tokenizer.type", "BertPreTokenizer", "Split"});
  j = tiny_byte_level();
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", Json::array({Json{{"type", "NFC"}}, Json{{"type", "BertNormalizer"}}})}};
  require_bad(j, ErrorKind::config, {"normalizer.normalizers[1].type", "BertNormalizer", "NFC"});
  j = tiny_byte_level();
  j["decoder"] = {{"type", "WordPiece"}};
  require_bad(j, ErrorKind::config, {"decoder.type", "WordPiece", "ByteLevel"});
  j = tiny_byte_level();
  j["post_processor"] = {{"type", "BertProcessing"}};
  require_bad(j, ErrorKind::config, {"post_processor.type", "BertProcessing"});
  j = tiny_byte_level();
  j["model"]["merges"].push_back("hello zz");
  require_bad(j, ErrorKind::config, {"tiny.json", "model.merges[5]", "\"zz\"", "not in the vocab"});
  j = tiny_byte_level();
  j["model"]["merges"].push_back("o w");  // "ow" is not in the vocab
  require_bad(j, ErrorKind::config, {"model.merges[5]", "\"ow\""});
  j = tiny_byte_level();
  j["model"]["vocab"]["extra"] = "7";
  require_bad(j, ErrorKind::config, {"model.vocab[\"extra\"]", "not an integer id"});
  j = tiny_byte_level();
  j["model"]["vocab"]["extra"] = 1.5;
  require_bad(j, ErrorKind::config, {"model.vocab[\"extra\"]", "1.5"});
  j = tiny_byte_level();
  j["model"]["vocab"]["extra"] = 5;
  require_bad(j, ErrorKind::config, {"model.vocab", "id 5", "already"});
  j = tiny_byte_level();
  j["model"]["vocab"] = Json::array({1, 2});
  require_bad(j, ErrorKind::config, {"model.vocab", "not an object"});
  j = tiny_byte_level();
  j["added_tokens"] = Json::array({Json{{"id", 5}, {"content", "<x>"}}});
  require_bad(j, ErrorKind::config, {"added_tokens[0]", "id 5", "<x>"});
  j = tiny_byte_level();
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(a"}}}, {"behavior", "Isolated"}};
  require_bad(j, ErrorKind::config, {"tiny.json", "pre_tokenizer.pattern.Regex", "not a valid regex", "offset 2"});
  j = tiny_byte_level();
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", "Sideways"}};
  require_bad(j, ErrorKind::config, {"pre_tokenizer.behavior", "Sideways"});
  j = tiny_byte_level();
  j.erase("model");
  require_bad(j, ErrorKind::config, {"tiny.json", "'model'", "missing"});
  everlora_test::require_data_error([] { load(tiny_byte_level(), R"({"bos_token": "<nope>"})"); }, ErrorKind::config,
                                    {"bos_token", "<nope>", "not a token"});
}

TEST_CASE("Tokenizer files: a missing file is an io error naming the path, a folder loads its config", "[data][tokenizer]") {
  everlora_test::DataTempDir dir;
  everlora_test::require_data_error([&] { Tokenizer::from_folder(dir.path()); }, ErrorKind::io,
                                    {dir.file("tokenizer.json")});
  everlora_test::write_bytes(dir.file("tokenizer.json"), tiny_metaspace().dump());
  everlora_test::write_bytes(dir.file("tokenizer_config.json"), R"({"bos_token": "<s>", "pad_token": "</s>"})");
  const Tokenizer tok = Tokenizer::from_folder(dir.path());
  CHECK(tok.bos_id() == 1);
  CHECK(tok.pad_id() == 2);
  everlora_test::write_bytes(dir.file("tokenizer_config.json"), R"({"bos_token": 3})");
  everlora_test::require_data_error([&] { Tokenizer::from_file(dir.file("tokenizer.json")); }, ErrorKind::config,
                                    {dir.file("tokenizer_config.json"), "bos_token"});
}
