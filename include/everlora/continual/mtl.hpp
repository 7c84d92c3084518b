// everlora — MTL, the upper bound (METHODS.md, baselines): one expert trained on the union of the
// tasks. To fill the same R matrix as the other methods it is run at every task t: a fresh expert
// trained on the union of tasks 1..t with the union's budget (t times a task's steps, as a joint run
// gives each task its own passes), so row t is the joint model of the first t tasks and the last row
// the multi-task model on every task (our decision, docs/methods/baselines.md).
#ifndef EVERLORA_CONTINUAL_MTL_HPP
#define EVERLORA_CONTINUAL_MTL_HPP

#include <numeric>
#include <string>
#include <vector>

#include "everlora/continual/seq_lora.hpp"

namespace everlora {

template <class T>
class Mtl : public SeqLora<T> {
 public:
  using SeqLora<T>::SeqLora;
  std::string name() const override { return "mtl"; }
  std::vector<Index> training_tasks(Index t) const override {
    std::vector<Index> tasks(static_cast<std::size_t>(t + 1));
    std::iota(tasks.begin(), tasks.end(), Index{0});
    return tasks;
  }
  /// A fresh expert for every union (its own seed per task, like the expert methods' experts).
  void before_task(Workload<T>& workload, Index t) override {
    if (t > 0)
      for (auto& [path, layer] : adapted_layers(workload.model())) layer->experts().remove(SeqLora<T>::kExpert);
    add_task_expert(workload.model(), this->options_.lora, SeqLora<T>::kExpert, t);
  }
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_MTL_HPP
