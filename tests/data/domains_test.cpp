// The domains builder on the real Debian packages: one next_byte task per domain with the
// requested document counts and sizes, no document twice, determinism, option errors, and the
// saved folder (stream.json with "metric": "next_byte", JSONL splits, BUILD_INFO.json).
#include "everlora/data/builders/domains.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "data/data_support.hpp"

using namespace everlora;
using everlora_test::DataTempDir;
using everlora_test::require_data_error;

namespace {

std::vector<std::string> inputs_of(const std::vector<Example>& examples) {
  std::vector<std::string> out;
  for (const Example& ex : examples) out.push_back(ex.input);
  return out;
}

/// True if `text` ends with a FOLDOC date stamp "(YYYY-MM-DD)".
bool ends_with_date(const std::string& text) {
  if (text.size() < 12) return false;
  const std::string tail = text.substr(text.size() - 12);
  for (std::size_t i = 0; i < 12; ++i) {
    const char want = "(0000-00-00)"[i];
    if (want == '0' ? !(tail[i] >= '0' && tail[i] <= '9') : tail[i] != want) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("domains has one next_byte task per domain with bounded unique documents",
          "[data][domains]") {
  const DomainsOptions o;
  const Stream s = build_domains(o);
  CHECK(s.name == "domains");
  REQUIRE(s.tasks.size() == 5);
  const std::vector<std::string> names = {"jargon", "computers", "devil", "foldoc", "poems"};
  std::set<std::string> docs;
  std::size_t total = 0;
  for (std::size_t t = 0; t < s.tasks.size(); ++t) {
    const Task& task = s.tasks[t];
    INFO("task " << task.spec.name);
    CHECK(task.spec.name == names[t]);
    CHECK(task.spec.metric == TaskMetric::next_byte);
    CHECK(task.spec.labels.empty());
    CHECK(static_cast<Index>(task.train.size()) == o.train_docs);
    CHECK(static_cast<Index>(task.dev.size()) == o.dev_docs);
    CHECK(static_cast<Index>(task.test.size()) == o.test_docs);
    for (const auto* split : {&task.train, &task.dev, &task.test})
      for (const Example& ex : *split) {
        CHECK(ex.instruction.empty());
        CHECK(ex.output.empty());
        CHECK(static_cast<Index>(ex.input.size()) <= o.max_doc_bytes);
        CHECK(static_cast<Index>(ex.input.size()) >= o.min_doc_bytes);
        CHECK(ex.input.find('\n') == std::string::npos);
        docs.insert(ex.input);
        ++total;
      }
  }
  CHECK(docs.size() == total);
  // The Devil's entries keep their headword, FOLDOC loses its date stamps.
  CHECK(s.tasks[2].train.front().input.find(", ") != std::string::npos);
  for (const Example& ex : s.tasks[3].train) CHECK_FALSE(ends_with_date(ex.input));

  // Deterministic for a seed, different for another.
  const Stream again = build_domains(o);
  DomainsOptions other = o;
  other.seed = 5;
  const Stream moved = build_domains(other);
  for (std::size_t t = 0; t < s.tasks.size(); ++t) {
    CHECK(inputs_of(again.tasks[t].train) == inputs_of(s.tasks[t].train));
    CHECK(inputs_of(again.tasks[t].test) == inputs_of(s.tasks[t].test));
    CHECK(inputs_of(moved.tasks[t].test) != inputs_of(s.tasks[t].test));
  }
}

TEST_CASE("domains options and missing packages are reported by name", "[data][domains][errors]") {
  DomainsOptions o;
  o.train_docs = 0;
  require_data_error([&] { build_domains(o); }, ErrorKind::config, {"train_docs"});
  o = DomainsOptions{};
  o.max_doc_bytes = 10;
  require_data_error([&] { build_domains(o); }, ErrorKind::config,
                     {"min_doc_bytes", "max_doc_bytes"});
  DataTempDir dir;
  o = DomainsOptions{};
  o.dictd_dir = dir.path();
  require_data_error([&] { build_domains(o); }, ErrorKind::io, {"dict-jargon"});
  o = DomainsOptions{};
  o.train_docs = 5000;
  require_data_error([&] { build_domains(o); }, ErrorKind::config,
                     {"domain 'jargon'", "5100 needed"});
}

TEST_CASE("domains save writes stream.json with next_byte tasks and the JSONL splits",
          "[data][domains]") {
  DataTempDir dir;
  const std::string out = dir.file("domains");
  DomainsOptions o;
  o.train_docs = 20;
  o.dev_docs = 3;
  o.test_docs = 4;
  save_domains(out, o);
  const auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  };
  const auto top = nlohmann::json::parse(read(out + "/stream.json"));
  CHECK(top["name"] == "domains");
  REQUIRE(top["tasks"].size() == 5);
  for (const auto& task : top["tasks"]) {
    CHECK(task["metric"] == "next_byte");
    CHECK_FALSE(task.contains("labels"));
    const std::pair<const char*, std::size_t> splits[3] = {{"train", 20}, {"dev", 3}, {"test", 4}};
    for (const auto& [name, count] : splits) {
      std::ifstream in(out + "/" + task["name"].get<std::string>() + "/" + name + ".jsonl");
      std::size_t lines = 0;
      for (std::string line; std::getline(in, line); ++lines) {
        const auto j = nlohmann::json::parse(line);
        CHECK(j.at("instruction") == "");
        CHECK(j.at("output") == "");
        CHECK_FALSE(j.at("input").get<std::string>().empty());
      }
      CHECK(lines == count);
    }
  }
  const auto info = nlohmann::json::parse(read(out + "/BUILD_INFO.json"));
  CHECK(info["builder"] == "domains");
  CHECK(info["options"]["train_docs"] == 20);
  CHECK(info["counts"]["poems"]["test"] == 4);
}
