// The textcl builder on the real Debian packages: task and label shape, balanced splits, clean and
// unique inputs, determinism, the pretraining corpus never holding a dev or test input, option
// errors, and the saved folder (stream.json, JSONL, pretrain.txt, BUILD_INFO.json).
#include "everlora/data/builders/textcl.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <fstream>
#include <functional>
#include <map>
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

/// True if `text` is valid UTF-8 (nlohmann refuses to dump anything else).
bool valid_utf8(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

bool same_examples(const std::vector<Example>& a, const std::vector<Example>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const Example& x, const Example& y) {
    return x.instruction == y.instruction && x.input == y.input && x.output == y.output;
  });
}

bool same_stream(const Stream& a, const Stream& b) {
  if (a.name != b.name || a.tasks.size() != b.tasks.size()) return false;
  for (std::size_t t = 0; t < a.tasks.size(); ++t) {
    const Task& x = a.tasks[t];
    const Task& y = b.tasks[t];
    if (x.spec.name != y.spec.name || x.spec.labels != y.spec.labels ||
        !same_examples(x.train, y.train) || !same_examples(x.dev, y.dev) ||
        !same_examples(x.test, y.test))
      return false;
  }
  return true;
}

/// Every dev and test input of `stream`.
std::vector<std::string> held_out_inputs(const Stream& stream) {
  std::vector<std::string> out;
  for (const Task& task : stream.tasks) {
    for (const Example& ex : task.dev) out.push_back(ex.input);
    for (const Example& ex : task.test) out.push_back(ex.input);
  }
  return out;
}

/// Fails for each of `needles` that occurs in `haystack` (Boyer–Moore–Horspool, independent of
/// the builder's own Rabin–Karp search).
void require_absent(const std::string& haystack, const std::vector<std::string>& needles) {
  std::size_t found = 0;
  for (const std::string& needle : needles) {
    const auto it = std::search(haystack.begin(), haystack.end(),
                                std::boyer_moore_horspool_searcher(needle.begin(), needle.end()));
    if (it != haystack.end()) {
      ++found;
      UNSCOPED_INFO("held-out input found in the corpus: " << needle);
    }
  }
  CHECK(found == 0);
}

/// Checks counts per label and split, outputs in the label set, clean bounded inputs.
void check_stream_shape(const Stream& s, const TextclOptions& o) {
  CHECK(s.name == "textcl");
  for (const Task& task : s.tasks) {
    INFO("task " << task.spec.name);
    CHECK(task.spec.metric == TaskMetric::exact_match);
    const std::pair<const std::vector<Example>*, Index> splits[3] = {
        {&task.train, o.train_per_label}, {&task.dev, o.dev_per_label}, {&task.test, o.test_per_label}};
    for (const auto& [examples, per_label] : splits) {
      std::map<std::string, Index> count;
      for (const Example& ex : *examples) {
        ++count[ex.output];
        CHECK(std::find(task.spec.labels.begin(), task.spec.labels.end(), ex.output) !=
              task.spec.labels.end());
        CHECK(ex.instruction == examples->front().instruction);
        CHECK(static_cast<Index>(ex.input.size()) <= o.max_input_bytes);
        CHECK(static_cast<Index>(ex.input.size()) >= o.min_input_bytes);
        CHECK(ex.input.find_first_of("\n\r\t") == std::string::npos);
        CHECK(ex.input.front() != ' ');
        CHECK(ex.input.back() != ' ');
        CHECK(ex.input.find("  ") == std::string::npos);
        CHECK(valid_utf8(ex.input));
      }
      for (const std::string& label : task.spec.labels) CHECK(count[label] == per_label);
      CHECK(static_cast<Index>(examples->size()) ==
            per_label * static_cast<Index>(task.spec.labels.size()));
    }
  }
}

}  // namespace

TEST_CASE("textcl has five or more tasks with 3 to 5 labels and disjoint label sets",
          "[data][textcl]") {
  const Stream s = build_textcl();
  REQUIRE(s.tasks.size() >= 5);
  std::set<std::string> names, labels;
  std::size_t label_count = 0;
  for (const Task& task : s.tasks) {
    INFO("task " << task.spec.name);
    CHECK(names.insert(task.spec.name).second);
    CHECK(task.spec.labels.size() >= 3);
    CHECK(task.spec.labels.size() <= 5);
    for (const std::string& label : task.spec.labels) {
      labels.insert(label);
      ++label_count;
      CHECK(std::all_of(label.begin(), label.end(), [](char c) { return c >= 'a' && c <= 'z'; }));
    }
    REQUIRE_FALSE(task.train.empty());
    CHECK(task.train.front().instruction.size() > 10);
    CHECK(task.train.front().instruction.back() == '?');
  }
  CHECK(labels.size() == label_count);  // no label in two tasks
  check_stream_shape(s, TextclOptions{});

  // Every input once in the whole stream: no text in two splits (or two tasks).
  std::set<std::string> inputs;
  std::size_t total = 0;
  for (const Task& task : s.tasks)
    for (const auto* split : {&task.train, &task.dev, &task.test})
      for (const Example& ex : *split) {
        inputs.insert(ex.input);
        ++total;
      }
  CHECK(inputs.size() == total);
}

TEST_CASE("textcl is deterministic for a seed and differs with another seed", "[data][textcl]") {
  const Stream a = build_textcl();
  const Stream b = build_textcl();
  CHECK(same_stream(a, b));
  TextclOptions other;
  other.seed = 2;
  const Stream c = build_textcl(other);
  CHECK_FALSE(same_stream(a, c));
  REQUIRE(c.tasks.size() == a.tasks.size());
  for (std::size_t t = 0; t < a.tasks.size(); ++t) {  // every task is drawn anew
    CHECK(c.tasks[t].spec.labels == a.tasks[t].spec.labels);
    CHECK_FALSE(same_examples(a.tasks[t].test, c.tasks[t].test));
  }
}

TEST_CASE("textcl follows smaller options and its corpus keeps to the byte cap", "[data][textcl]") {
  TextclOptions o;
  o.seed = 7;
  o.train_per_label = 12;
  o.dev_per_label = 0;
  o.test_per_label = 5;
  o.max_input_bytes = 64;
  o.min_input_bytes = 32;
  o.pretrain_max_bytes = 200000;
  const Stream s = build_textcl(o);
  check_stream_shape(s, o);
  for (const Task& task : s.tasks) CHECK(task.dev.empty());
  const std::string corpus = textcl_pretraining_corpus(s, o);
  CHECK(corpus.size() <= 200000);
  CHECK(corpus.size() > 190000);
  require_absent(corpus, held_out_inputs(s));
}

TEST_CASE("corpus for textcl pretraining holds no dev or test input", "[data][textcl][corpus]") {
  const TextclOptions o;
  const Stream s = build_textcl(o);
  const std::string corpus = textcl_pretraining_corpus(s, o);
  CHECK(corpus.size() <= static_cast<std::size_t>(o.pretrain_max_bytes));
  CHECK(corpus.size() > static_cast<std::size_t>(o.pretrain_max_bytes) * 9 / 10);
  CHECK(valid_utf8(corpus));
  CHECK(corpus.back() == '\n');

  std::vector<std::string> needles = held_out_inputs(s);
  for (const Task& task : s.tasks)  // the pos inputs read "headword: definition"
    if (task.spec.name == "pos")
      for (const auto* split : {&task.dev, &task.test})
        for (const Example& ex : *split) {
          const std::size_t colon = ex.input.find(": ");
          REQUIRE(colon != std::string::npos);
          if (ex.input.size() - colon - 2 >= 24) needles.push_back(ex.input.substr(colon + 2));
        }
  require_absent(corpus, needles);

  // All four sources are in it: Devil ("WORD, n."), FOLDOC (<tags>), Jargon (/pronunciation/)
  // and fortunes (" -- Author").
  CHECK(corpus.find(", n. ") != std::string::npos);
  CHECK(corpus.find("<programming>") != std::string::npos);
  CHECK(corpus.find("/, n. ") != std::string::npos);
  CHECK(corpus.find(" -- ") != std::string::npos);
  // Train inputs may be in it, and many are (checked on the first 40 of each task).
  std::size_t train_in = 0, train_total = 0;
  for (const Task& task : s.tasks)
    for (std::size_t i = 0; i < 40 && i < task.train.size(); ++i) {
      const std::string& in = task.train[i].input;
      ++train_total;
      train_in += std::search(corpus.begin(), corpus.end(),
                              std::boyer_moore_horspool_searcher(in.begin(), in.end())) !=
                  corpus.end();
    }
  CHECK(train_in > train_total / 10);
}

TEST_CASE("textcl options and missing packages are reported by name", "[data][textcl][errors]") {
  TextclOptions o;
  o.train_per_label = 0;
  require_data_error([&] { build_textcl(o); }, ErrorKind::config, {"train_per_label", "0"});
  o = TextclOptions{};
  o.test_per_label = 0;
  require_data_error([&] { build_textcl(o); }, ErrorKind::config, {"test_per_label"});
  o = TextclOptions{};
  o.min_input_bytes = 200;
  require_data_error([&] { build_textcl(o); }, ErrorKind::config,
                     {"min_input_bytes", "max_input_bytes"});
  o = TextclOptions{};
  o.pretrain_max_bytes = -1;
  require_data_error([&] { textcl_pretraining_corpus(Stream{}, o); }, ErrorKind::config,
                     {"pretrain_max_bytes"});

  DataTempDir dir;
  o = TextclOptions{};
  o.fortunes_dir = dir.file("no-fortunes");
  require_data_error([&] { build_textcl(o); }, ErrorKind::io, {"no-fortunes", "'fortunes'"});
  o = TextclOptions{};
  o.dictd_dir = dir.path();
  require_data_error([&] { build_textcl(o); }, ErrorKind::io, {"jargon.index", "dict-jargon"});

  o = TextclOptions{};
  o.train_per_label = 400;  // more than the verbs of Jargon and Devil together
  require_data_error([&] { build_textcl(o); }, ErrorKind::config,
                     {"task 'pos'", "label 'verb'", "450 needed"});
}

TEST_CASE("textcl save writes stream.json, the JSONL splits, pretrain.txt and BUILD_INFO.json",
          "[data][textcl]") {
  DataTempDir dir;
  const std::string out = dir.file("textcl");
  save_textcl(out);
  const Stream s = build_textcl();

  const auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  };
  const auto top = nlohmann::json::parse(read(out + "/stream.json"));
  CHECK(top["name"] == "textcl");
  REQUIRE(top["tasks"].size() == s.tasks.size());
  for (std::size_t t = 0; t < s.tasks.size(); ++t) {
    const Task& task = s.tasks[t];
    CHECK(top["tasks"][t]["name"] == task.spec.name);
    CHECK(top["tasks"][t]["labels"].get<std::vector<std::string>>() == task.spec.labels);
    CHECK_FALSE(top["tasks"][t].contains("metric"));
    const std::pair<const char*, const std::vector<Example>*> splits[3] = {
        {"train", &task.train}, {"dev", &task.dev}, {"test", &task.test}};
    for (const auto& [name, examples] : splits) {
      std::ifstream in(out + "/" + task.spec.name + "/" + name + ".jsonl");
      std::vector<Example> lines;
      for (std::string line; std::getline(in, line);) {
        const auto j = nlohmann::json::parse(line);
        CHECK(j.size() == 3);
        lines.push_back({j.at("instruction").get<std::string>(), j.at("input").get<std::string>(),
                         j.at("output").get<std::string>()});
      }
      CHECK(same_examples(lines, *examples));
    }
  }
  const std::string corpus = read(out + "/pretrain.txt");
  CHECK(corpus.size() > 1000000);
  CHECK(corpus.size() <= static_cast<std::size_t>(TextclOptions{}.pretrain_max_bytes));
  const auto info = nlohmann::json::parse(read(out + "/BUILD_INFO.json"));
  CHECK(info["builder"] == "textcl");
  CHECK(info["seed"] == 1);
  CHECK(info["options"]["train_per_label"] == 150);
  CHECK(info["sources"].size() == 4);
  CHECK(info["pretrain_bytes"] == corpus.size());
  CHECK(info["counts"]["pos"]["test"] == 90);
}
