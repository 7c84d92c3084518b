// everlora — the data of a continual-learning stream (BENCHMARKS.md, "Task data format").
//   Stream  = a name and tasks in training order (stream.json at the top of a folder);
//   Task    = a spec (name, label set or metric) and its train / dev / test examples;
//   Example = one {"instruction", "input", "output"} line of a task's JSONL file.
// Image tasks (rotated Fashion-MNIST) use ImageTask instead: pixels and class ids.
#ifndef EVERLORA_DATA_TASK_HPP
#define EVERLORA_DATA_TASK_HPP

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "everlora/config.hpp"

namespace everlora {

/// One line of a task file. The model sees instruction, the options and input; it is trained on
/// (and scored by) output.
struct Example {
  std::string instruction;
  std::string input;
  std::string output;
};

/// How a task is scored: by exact match of the greedy output; by rank classification (a
/// classification task's label whose answer tokens have the highest log-likelihood, BENCHMARKS.md:
/// `"metric": "rank"`); or by next-byte accuracy on `input` (a language-modelling task:
/// `"metric": "next_byte"`).
enum class TaskMetric { exact_match, next_byte, rank };

/// A task as stream.json names it.
struct TaskSpec {
  std::string name;
  std::vector<std::string> labels;  ///< the label set of a classification task; empty otherwise
  TaskMetric metric = TaskMetric::exact_match;
};

/// One task's examples, split as the folder's train.jsonl / dev.jsonl / test.jsonl.
struct Task {
  TaskSpec spec;
  std::vector<Example> train, dev, test;
};

/// The tasks of a stream, in training order.
struct Stream {
  std::string name;
  std::vector<Task> tasks;
};

/// Which split of a task.
enum class Split { train, dev, test };

/// The examples scored when at most `limit` are (0: all of them, in order). The outputs are taken
/// in turn (each output's examples in file order, the outputs in order of first appearance), so a
/// small limit keeps a classification task's labels balanced where the file's first lines may
/// hold mostly one; a task whose outputs all differ keeps its first `limit` examples.
inline std::vector<Example> limited_examples(const std::vector<Example>& examples, Index limit) {
  if (limit <= 0 || limit >= static_cast<Index>(examples.size())) return examples;
  std::vector<std::vector<std::size_t>> by_output;  // indices, grouped by output
  std::map<std::string, std::size_t> group_of;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const auto [it, added] = group_of.emplace(examples[i].output, by_output.size());
    if (added) by_output.emplace_back();
    by_output[it->second].push_back(i);
  }
  std::vector<std::size_t> chosen;
  for (std::size_t round = 0; static_cast<Index>(chosen.size()) < limit; ++round)
    for (const auto& group : by_output)
      if (round < group.size() && static_cast<Index>(chosen.size()) < limit) chosen.push_back(group[round]);
  std::sort(chosen.begin(), chosen.end());
  std::vector<Example> out;
  for (const std::size_t i : chosen) out.push_back(examples[i]);
  return out;
}

/// Images with class ids, row-major [count, rows·cols] bytes scaled to [0, 1] by the user.
struct ImageSet {
  Index count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  ///< count · rows · cols, row-major per image
  std::vector<int> labels;           ///< count class ids
};

}  // namespace everlora

#endif  // EVERLORA_DATA_TASK_HPP
