// Stream folders: save_stream / load_stream round trips, and the errors that name stream.json and
// its key, or the JSONL file and line, of the first problem.
#include "everlora/data/stream.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "data/data_support.hpp"

using namespace everlora;
using everlora_test::DataTempDir;
using everlora_test::require_data_error;
using everlora_test::write_bytes;

namespace {

/// A two-task stream: a labelled classification task and a language-modelling one.
Stream sample_stream() {
  Stream s;
  s.name = "tiny";
  Task cls;
  cls.spec.name = "sentiment";
  cls.spec.labels = {"positive", "negative"};
  cls.spec.metric = TaskMetric::rank;  // kept through save_stream and load_stream
  cls.train = {{"Is it positive?", "I love it", "positive"},
               {"Is it positive?", "meh", "negative"}};
  cls.dev = {{"Is it positive?", "great", "positive"}};
  cls.test = {{"Is it positive?", "awful", "negative"}};
  Task lm;
  lm.spec.name = "text";
  lm.spec.metric = TaskMetric::next_byte;
  lm.train = {{"", "the cat sat", ""}};
  lm.dev = {{"", "on the mat", ""}};
  lm.test = {{"", "caf\xc3\xa9", ""}};
  s.tasks = {cls, lm};
  return s;
}

const std::string kLine = R"({"instruction": "i", "input": "x", "output": "yes"})"
                          "\n";

/// A stream folder whose stream.json is `json` and whose tasks `names` hold kLine in every split.
void write_folder(const std::string& dir, const std::string& json,
                  const std::vector<std::string>& names) {
  write_bytes(dir + "/stream.json", json);
  for (const auto& name : names)
    for (const char* split : {"train", "dev", "test"})
      write_bytes(dir + "/" + name + "/" + split + ".jsonl", kLine);
}

void require_stream_json_error(const std::string& json, const std::vector<std::string>& fragments) {
  DataTempDir dir;
  write_folder(dir.path(), json, {"a", "b"});
  std::vector<std::string> all = fragments;
  all.push_back(dir.file("stream.json"));
  require_data_error([&] { load_stream(dir.path()); }, ErrorKind::format, all);
}

}  // namespace

TEST_CASE("save_stream then load_stream gives back the stream", "[data][stream]") {
  DataTempDir dir;
  const Stream s = sample_stream();
  save_stream(dir.path() + "/out", s);
  const Stream back = load_stream(dir.path() + "/out");
  CHECK(back.name == "tiny");
  REQUIRE(back.tasks.size() == 2);
  for (std::size_t k = 0; k < 2; ++k) {
    const Task &a = s.tasks[k], &b = back.tasks[k];
    CHECK(b.spec.name == a.spec.name);
    CHECK(b.spec.labels == a.spec.labels);
    CHECK(b.spec.metric == a.spec.metric);
    for (const auto& [x, y] :
         {std::pair{&a.train, &b.train}, {&a.dev, &b.dev}, {&a.test, &b.test}}) {
      REQUIRE(x->size() == y->size());
      for (std::size_t i = 0; i < x->size(); ++i) {
        CHECK((*y)[i].instruction == (*x)[i].instruction);
        CHECK((*y)[i].input == (*x)[i].input);
        CHECK((*y)[i].output == (*x)[i].output);
      }
    }
  }
  // stream.json holds only what differs from the defaults.
  const std::string json = read_file(dir.path() + "/out/stream.json");
  CHECK(json.find("\"labels\"") != std::string::npos);
  CHECK(json.find("\"next_byte\"") != std::string::npos);
  CHECK(json.find("exact_match") == std::string::npos);
  CHECK(std::filesystem::is_regular_file(dir.path() + "/out/text/test.jsonl"));
}

TEST_CASE("load_stream reads a hand-written folder with defaults and unknown keys",
          "[data][stream]") {
  DataTempDir dir;
  write_folder(dir.path(),
               R"({"name": "s", "comment": "ignored", "tasks": [{"name": "a"},
                   {"name": "b", "labels": ["yes", "no"], "metric": "exact_match"}]})",
               {"a", "b"});
  const Stream s = load_stream(dir.path());
  REQUIRE(s.tasks.size() == 2);
  CHECK(s.tasks[0].spec.metric == TaskMetric::exact_match);
  CHECK(s.tasks[0].spec.labels.empty());
  CHECK(s.tasks[1].spec.labels == std::vector<std::string>{"yes", "no"});
  CHECK(s.tasks[1].test.at(0).output == "yes");
}

TEST_CASE("load_stream on a folder without stream.json says it is not a stream folder",
          "[data][stream][errors]") {
  DataTempDir dir;
  require_data_error([&] { load_stream(dir.path()); }, ErrorKind::io,
                     {dir.path(), "not a stream folder", "stream.json"});
  require_data_error([&] { load_stream(dir.file("missing")); }, ErrorKind::io,
                     {"not a stream folder"});
}

TEST_CASE("load_stream names stream.json and the key that is wrong", "[data][stream][errors]") {
  require_stream_json_error("{\"name\": \"s\", ", {"invalid JSON"});
  require_stream_json_error("[]", {"not a JSON object"});
  require_stream_json_error(R"({"tasks": [{"name": "a"}]})", {"\"name\" is missing"});
  require_stream_json_error(R"({"name": "s"})", {"\"tasks\" is missing"});
  require_stream_json_error(R"({"name": "s", "tasks": []})",
                            {"\"tasks\" must be a non-empty array"});
  require_stream_json_error(R"({"name": "s", "tasks": ["a"]})", {"tasks[0] is a string"});
  require_stream_json_error(R"({"name": "s", "tasks": [{"name": "a"}, {"labels": []}]})",
                            {"tasks[1].name is missing"});
  require_stream_json_error(R"({"name": "s", "tasks": [{"name": "a", "metric": "bleu"}]})",
                            {"tasks[0].metric \"bleu\" is not a known metric"});
  require_stream_json_error(R"({"name": "s", "tasks": [{"name": "a", "metric": 1}]})",
                            {"tasks[0].metric 1 is not a known metric"});
  require_stream_json_error(R"({"name": "s", "tasks": [{"name": "a"}, {"name": "a"}]})",
                            {"tasks[1].name 'a' is used by an earlier task"});
  require_stream_json_error(R"({"name": "s", "tasks": [{"name": "a", "labels": ["yes", 2]}]})",
                            {"tasks[0].labels[1] is a number, not a string"});
  require_stream_json_error(R"({"name": "s", "tasks": [{"name": "a", "labels": "yes"}]})",
                            {"tasks[0].labels is a string, not an array"});
  require_stream_json_error(R"({"name": "s", "tasks": [{"name": "a", "labels": ["yes", "yes"]}]})",
                            {"tasks[0].labels[1] 'yes' repeats"});
  require_stream_json_error(R"({"name": "s", "tasks": [{"name": "../a"}]})",
                            {"tasks[0].name '../a' is not a plain folder name"});
  require_stream_json_error(
      R"({"name": "s", "tasks": [{"name": "a", "labels": ["yes"], "metric": "next_byte"}]})",
      {"tasks[0] has labels but metric \"next_byte\""});
  require_stream_json_error(R"({"name": "s", "tasks": [{"name": "a", "metric": "rank"}]})",
                            {"tasks[0] has metric \"rank\", which ranks the labels, but no labels"});
}

TEST_CASE("load_stream names the file and line of an output that is not one of the labels",
          "[data][stream][errors]") {
  DataTempDir dir;
  write_folder(dir.path(), R"({"name": "s", "tasks": [{"name": "a", "labels": ["yes", "no"]}]})",
               {"a"});
  write_bytes(dir.file("a/dev.jsonl"),
              kLine + "\n" + R"({"instruction": "i", "input": "x", "output": "maybe"})" + "\n");
  require_data_error([&] { load_stream(dir.path()); }, ErrorKind::format,
                     {dir.file("a/dev.jsonl") + ":3: ", "'maybe' is not one of the labels",
                      "task 'a'", "(yes, no)"});
}

TEST_CASE("load_stream passes on the JSONL errors of a task file, and a missing file",
          "[data][stream][errors]") {
  DataTempDir dir;
  write_folder(dir.path(), R"({"name": "s", "tasks": [{"name": "a"}, {"name": "b"}]})", {"a"});
  require_data_error([&] { load_stream(dir.path()); }, ErrorKind::io, {dir.file("b/train.jsonl")});
  write_folder(dir.path(), R"({"name": "s", "tasks": [{"name": "a"}, {"name": "b"}]})", {"a", "b"});
  write_bytes(dir.file("b/test.jsonl"), R"({"instruction": "i", "input": "x", "output": ""})");
  require_data_error([&] { load_stream(dir.path()); }, ErrorKind::format,
                     {dir.file("b/test.jsonl") + ":1: ", "empty \"output\""});
}

TEST_CASE("next_byte tasks may have empty outputs but not empty inputs", "[data][stream][errors]") {
  DataTempDir dir;
  write_folder(dir.path(), R"({"name": "s", "tasks": [{"name": "lm", "metric": "next_byte"}]})",
               {"lm"});
  write_bytes(dir.file("lm/train.jsonl"), R"({"instruction": "", "input": "abc", "output": ""})");
  CHECK(load_stream(dir.path()).tasks.at(0).train.at(0).input == "abc");
  write_bytes(dir.file("lm/train.jsonl"), R"({"instruction": "", "input": "", "output": ""})");
  require_data_error(
      [&] { load_stream(dir.path()); }, ErrorKind::format,
      {dir.file("lm/train.jsonl") + ":1: ", "empty \"input\"", "next_byte task 'lm'"});
}

TEST_CASE("save_stream checks the whole stream before writing anything", "[data][stream][errors]") {
  DataTempDir dir;
  const std::string out = dir.file("out");
  const auto require_refused = [&](const Stream& s, const std::vector<std::string>& fragments) {
    require_data_error([&] { save_stream(out, s); }, ErrorKind::value, fragments);
    CHECK_FALSE(std::filesystem::exists(out));
  };
  Stream s = sample_stream();
  s.tasks[1].test[0].output = "not a label either";
  s.tasks[0].dev[0].output = "neutral";
  require_refused(s, {"tasks[0]", "dev.jsonl example 0", "'neutral' is not one of the labels"});
  s = sample_stream();
  s.tasks[1].spec.name = "sentiment";
  require_refused(s, {"tasks[1].name 'sentiment' is used by an earlier task"});
  s = sample_stream();
  s.tasks[1].test.clear();
  require_refused(s, {"tasks[1] ('text') test.jsonl has no examples"});
  s = sample_stream();
  s.tasks[1].dev[0].input = "\xc3";
  require_refused(s, {"tasks[1] ('text') dev.jsonl example 0 input is not valid UTF-8"});
  s = sample_stream();
  s.tasks[1].dev[0].input.clear();
  require_refused(s, {"dev.jsonl example 0 has an empty input"});
  s = sample_stream();
  s.tasks[0].spec.labels.clear();
  s.tasks[0].spec.metric = TaskMetric::exact_match;  // a generation task: any non-blank output
  s.tasks[0].train[1].output = " ";
  require_refused(s, {"train.jsonl example 1 has an empty output"});
  s.tasks.clear();
  require_refused(s, {"no tasks"});
}

TEST_CASE("limited_examples takes the labels in turn, keeps file order, and all when unlimited", "[data][stream]") {
  const auto ex = [](const std::string& output, const std::string& input) { return Example{"q", input, output}; };
  const std::vector<Example> test = {ex("a", "1"), ex("a", "2"), ex("a", "3"), ex("b", "4"), ex("a", "5"), ex("c", "6"), ex("b", "7")};
  const auto inputs = [](const std::vector<Example>& examples) {
    std::string joined;
    for (const Example& e : examples) joined += e.input;
    return joined;
  };
  CHECK(inputs(limited_examples(test, 3)) == "146");    // one a, one b, one c
  CHECK(inputs(limited_examples(test, 5)) == "12467");  // then a second a and b
  CHECK(inputs(limited_examples(test, 0)) == "1234567");
  CHECK(inputs(limited_examples(test, 50)) == "1234567");
  const std::vector<Example> distinct = {ex("x", "1"), ex("y", "2"), ex("z", "3")};
  CHECK(inputs(limited_examples(distinct, 2)) == "12");
}
