// everlora — MTL, the upper bound (METHODS.md, baselines): one expert trained on the union of the
// tasks. To fill the same R matrix as the other methods it is run cumulatively: at task t it trains
// on the union of tasks 1..t with the union's budget (t times a task's steps, as a joint run gives
// each task its own passes), so its last row is the multi-task model on every task (our decision,
// docs/methods/baselines.md).
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
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_MTL_HPP
