// everlora — the data of a continual-learning stream (BENCHMARKS.md, "Task data format").
//   Stream  = a name and tasks in training order (stream.json at the top of a folder);
//   Task    = a spec (name, label set or metric) and its train / dev / test examples;
//   Example = one {"instruction", "input", "output"} line of a task's JSONL file.
// Image tasks (rotated Fashion-MNIST) use ImageTask instead: pixels and class ids.
#ifndef EVERLORA_DATA_TASK_HPP
#define EVERLORA_DATA_TASK_HPP

#include <cstdint>
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

/// Images with class ids, row-major [count, rows·cols] bytes scaled to [0, 1] by the user.
struct ImageSet {
  Index count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  ///< count · rows · cols, row-major per image
  std::vector<int> labels;           ///< count class ids
};

}  // namespace everlora

#endif  // EVERLORA_DATA_TASK_HPP
