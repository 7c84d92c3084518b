// everlora — a task stream on disk (BENCHMARKS.md, "Task data format"):
//   <dir>/stream.json                       {"name": …, "tasks": [{"name", "labels"?, "metric"?},
//   …]} <dir>/<task>/{train,dev,test}.jsonl     the examples of each task (data/jsonl.hpp)
// load_stream checks the whole folder and names the file and key (or line) of the first problem.
// @sa docs/concepts/data.md
#ifndef EVERLORA_DATA_STREAM_HPP
#define EVERLORA_DATA_STREAM_HPP

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "everlora/core/error.hpp"
#include "everlora/data/jsonl.hpp"
#include "everlora/data/task.hpp"
#include "everlora/io/atomic_file.hpp"

namespace everlora {

/// The metric's name in stream.json: "exact_match", "next_byte" or "rank".
inline const char* to_string(TaskMetric metric) {
  switch (metric) {
    case TaskMetric::next_byte: return "next_byte";
    case TaskMetric::rank: return "rank";
    case TaskMetric::exact_match: break;
  }
  return "exact_match";
}

namespace detail {

/// The splits of a task folder and their files.
inline constexpr Split kSplits[3] = {Split::train, Split::dev, Split::test};
inline const char* split_file(Split split) {
  return split == Split::train ? "train.jsonl" : split == Split::dev ? "dev.jsonl" : "test.jsonl";
}
inline std::vector<Example>& split_examples(Task& task, Split split) {
  return split == Split::train ? task.train : split == Split::dev ? task.dev : task.test;
}
inline const std::vector<Example>& split_examples(const Task& task, Split split) {
  return split == Split::train ? task.train : split == Split::dev ? task.dev : task.test;
}

/// Throws Error(value) "<where> is not valid UTF-8" unless `text` is.
inline void require_utf8(const std::string& text, const std::string& where) {
  if (first_invalid_utf8(text) != std::string_view::npos)
    throw Error(ErrorKind::value, where + " is not valid UTF-8");
}

/// The rules a task spec must follow, whether it came from stream.json or from code: a name that
/// is a plain folder name, labels that are distinct and non-empty, no labels on a next_byte task.
/// Throws Error(kind) prefixed with `where`.
inline void check_task_spec(const TaskSpec& spec, ErrorKind kind, const std::string& where) {
  if (spec.name.empty() || spec.name == "." || spec.name == ".." ||
      spec.name.find_first_of("/\\") != std::string::npos ||
      spec.name.find('\0') != std::string::npos)
    throw Error(kind, where + ".name '" + spec.name + "' is not a plain folder name");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < spec.labels.size(); ++i) {
    const std::string at = where + ".labels[" + std::to_string(i) + "]";
    if (is_blank(spec.labels[i])) throw Error(kind, at + " is empty");
    if (!seen.insert(spec.labels[i]).second)
      throw Error(kind, at + " '" + spec.labels[i] + "' repeats an earlier label");
  }
  if (!spec.labels.empty() && spec.metric == TaskMetric::next_byte)
    throw Error(
        kind, where + " has labels but metric \"next_byte\" (a language-modelling task has none)");
  if (spec.labels.size() < 2 && spec.metric == TaskMetric::rank)
    throw Error(kind, where + " has metric \"rank\", which ranks the labels, but " +
                          (spec.labels.empty() ? std::string("no labels") : std::string("one label")));
}

/// "a, b, c": the labels for messages (and prompts).
inline std::string join_labels(const std::vector<std::string>& labels) {
  std::string out;
  for (std::size_t i = 0; i < labels.size(); ++i) out += (i ? ", " : "") + labels[i];
  return out;
}

/// The task specs of a parsed stream.json (`file` names it in errors).
inline std::vector<TaskSpec> parse_task_specs(const nlohmann::json& tasks,
                                              const std::string& file) {
  if (!tasks.is_array() || tasks.empty())
    throw Error(ErrorKind::format, file + ": \"tasks\" must be a non-empty array of task objects");
  std::vector<TaskSpec> specs;
  std::set<std::string> names;
  for (std::size_t k = 0; k < tasks.size(); ++k) {
    const nlohmann::json& t = tasks[k];
    const std::string where = "tasks[" + std::to_string(k) + "]";
    const auto fail = [&](const std::string& what) {
      throw Error(ErrorKind::format, file + ": " + where + what);
    };
    if (!t.is_object()) fail(" is a " + std::string(t.type_name()) + ", not an object");
    TaskSpec spec;
    const auto name = t.find("name");
    if (name == t.end() || !name->is_string()) fail(".name is missing or not a string");
    spec.name = name->get<std::string>();
    if (const auto labels = t.find("labels"); labels != t.end()) {
      if (!labels->is_array())
        fail(".labels is a " + std::string(labels->type_name()) + ", not an array");
      for (std::size_t i = 0; i < labels->size(); ++i) {
        if (!(*labels)[i].is_string())
          fail(".labels[" + std::to_string(i) + "] is a " + (*labels)[i].type_name() +
               ", not a string");
        spec.labels.push_back((*labels)[i].get<std::string>());
      }
    }
    if (const auto metric = t.find("metric"); metric != t.end()) {
      const std::string value = metric->is_string() ? metric->get<std::string>() : "";
      if (value == "next_byte")
        spec.metric = TaskMetric::next_byte;
      else if (value == "rank")
        spec.metric = TaskMetric::rank;
      else if (value != "exact_match")
        fail(".metric " + metric->dump() +
             " is not a known metric (\"exact_match\", the default, \"rank\" or \"next_byte\")");
    }
    check_task_spec(spec, ErrorKind::format, file + ": " + where);
    if (!names.insert(spec.name).second)
      fail(".name '" + spec.name + "' is used by an earlier task");
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace detail

/// The stream in `dir`: stream.json, then `<task>/{train,dev,test}.jsonl` for every task it lists.
/// In stream.json a task has a "name" (a plain folder name, unique), optional "labels" (distinct
/// non-empty strings: a classification task, whose every output must be one of them) and optional
/// "metric" ("exact_match", the default, or "next_byte": a language-modelling task whose outputs
/// may be empty and whose inputs may not). Unknown keys are ignored.
/// Throws Error(io) if stream.json is missing (the folder is not a stream) or a file cannot be
/// read; Error(format) naming stream.json and the key, or the JSONL file and line, otherwise.
inline Stream load_stream(const std::string& dir) {
  const std::string file = dir + "/stream.json";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw Error(ErrorKind::io, "load_stream: '" + dir +
                                   "' is not a stream folder: it has no stream.json "
                                   "(the format: docs/concepts/data.md)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(ErrorKind::format, file + ": invalid JSON: " + e.what());
  }
  if (!j.is_object())
    throw Error(ErrorKind::format, file + ": not a JSON object but a " + j.type_name());
  const auto name = j.find("name");
  if (name == j.end() || !name->is_string())
    throw Error(ErrorKind::format, file + ": \"name\" is missing or not a string");
  const auto tasks = j.find("tasks");
  if (tasks == j.end()) throw Error(ErrorKind::format, file + ": \"tasks\" is missing");

  Stream stream;
  stream.name = name->get<std::string>();
  for (TaskSpec& spec : detail::parse_task_specs(*tasks, file)) {
    Task task;
    task.spec = std::move(spec);
    const bool next_byte = task.spec.metric == TaskMetric::next_byte;
    for (const Split split : detail::kSplits) {
      const std::string path = dir + "/" + task.spec.name + "/" + detail::split_file(split);
      detail::NumberedExamples read = detail::read_jsonl_numbered(path, !next_byte);
      for (std::size_t i = 0; i < read.examples.size(); ++i) {
        const Example& ex = read.examples[i];
        const std::string where = path + ":" + std::to_string(read.lines[i]) + ": ";
        if (next_byte && ex.input.empty())
          throw Error(ErrorKind::format,
                      where + "empty \"input\" in next_byte task '" + task.spec.name + "'");
        const auto& labels = task.spec.labels;
        if (!labels.empty() && std::find(labels.begin(), labels.end(), ex.output) == labels.end())
          throw Error(ErrorKind::format,
                      where + "output '" + ex.output + "' is not one of the labels of task '" +
                          task.spec.name + "' (" + detail::join_labels(labels) + ")");
      }
      detail::split_examples(task, split) = std::move(read.examples);
    }
    stream.tasks.push_back(std::move(task));
  }
  return stream;
}

/// Writes `stream` to `dir` in load_stream's layout, creating the folders; every file is replaced
/// atomically and stream.json is written last. Nothing is written unless load_stream would accept
/// the result: the specs follow its rules, all text is UTF-8, no split is empty, labelled tasks'
/// outputs are labels, exact-match tasks have non-empty outputs and next_byte tasks non-empty
/// inputs. Throws Error(value) naming the task (and split and example) otherwise; Error(io) if a
/// folder or file cannot be written.
inline void save_stream(const std::string& dir, const Stream& stream) {
  detail::require_utf8(stream.name, "save_stream: the stream name");
  if (stream.tasks.empty())
    throw Error(ErrorKind::value, "save_stream: stream '" + stream.name + "' has no tasks");
  std::set<std::string> names;
  nlohmann::ordered_json tasks = nlohmann::ordered_json::array();
  for (std::size_t k = 0; k < stream.tasks.size(); ++k) {
    const Task& task = stream.tasks[k];
    const std::string where = "save_stream: tasks[" + std::to_string(k) + "]";
    detail::check_task_spec(task.spec, ErrorKind::value, where);
    if (!names.insert(task.spec.name).second)
      throw Error(ErrorKind::value,
                  where + ".name '" + task.spec.name + "' is used by an earlier task");
    detail::require_utf8(task.spec.name, where + ".name");
    for (std::size_t i = 0; i < task.spec.labels.size(); ++i)
      detail::require_utf8(task.spec.labels[i], where + ".labels[" + std::to_string(i) + "]");
    for (const Split split : detail::kSplits) {
      const auto& examples = detail::split_examples(task, split);
      const std::string at = where + " ('" + task.spec.name + "') " + detail::split_file(split);
      if (examples.empty()) throw Error(ErrorKind::value, at + " has no examples");
      for (std::size_t i = 0; i < examples.size(); ++i) {
        const Example& ex = examples[i];
        const std::string item = at + " example " + std::to_string(i);
        const auto& labels = task.spec.labels;
        detail::require_utf8(ex.instruction, item + " instruction");
        detail::require_utf8(ex.input, item + " input");
        detail::require_utf8(ex.output, item + " output");
        if (task.spec.metric != TaskMetric::next_byte && detail::is_blank(ex.output))
          throw Error(ErrorKind::value, item + " has an empty output");
        if (task.spec.metric == TaskMetric::next_byte && ex.input.empty())
          throw Error(ErrorKind::value, item + " has an empty input (next_byte task)");
        if (!labels.empty() && std::find(labels.begin(), labels.end(), ex.output) == labels.end())
          throw Error(ErrorKind::value, item + ": output '" + ex.output +
                                            "' is not one of the labels (" +
                                            detail::join_labels(labels) + ")");
      }
    }
    nlohmann::ordered_json t = {{"name", task.spec.name}};
    if (!task.spec.labels.empty()) t["labels"] = task.spec.labels;
    if (task.spec.metric != TaskMetric::exact_match) t["metric"] = to_string(task.spec.metric);
    tasks.push_back(std::move(t));
  }

  for (const Task& task : stream.tasks) {
    const std::string folder = dir + "/" + task.spec.name;
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec)
      throw Error(ErrorKind::io,
                  "save_stream: cannot create the folder '" + folder + "': " + ec.message());
    for (const Split split : detail::kSplits)
      write_jsonl(folder + "/" + detail::split_file(split), detail::split_examples(task, split));
  }
  const nlohmann::ordered_json j = {{"name", stream.name}, {"tasks", std::move(tasks)}};
  write_file_atomically(dir + "/stream.json", j.dump(2) + "\n");
}

}  // namespace everlora

#endif  // EVERLORA_DATA_STREAM_HPP
