// everlora — experience replay, ER (METHODS.md, baselines): one expert trained through every task,
// as SeqLoRA, plus a reservoir of past training examples (default 500). From the second task on,
// each step adds the loss of a replay batch of the training batch's size:
//   loss = CE(current batch) + CE(replay batch)
// and every training batch is offered to the reservoir after its step.
#ifndef EVERLORA_CONTINUAL_REPLAY_HPP
#define EVERLORA_CONTINUAL_REPLAY_HPP

#include <string>
#include <vector>

#include "everlora/continual/replay_buffer.hpp"
#include "everlora/continual/seq_lora.hpp"

namespace everlora {

template <class T>
class Replay : public SeqLora<T> {
 public:
  explicit Replay(StrategyOptions options)
      : SeqLora<T>(options), buffer_(options.replay_capacity, options.seed) {}
  std::string name() const override { return "replay"; }
  void before_task(Workload<T>& workload, Index t) override {
    SeqLora<T>::before_task(workload, t);
    task_ = t;
  }
  Tensor<T> extra_loss(Workload<T>& workload, const std::vector<ExampleRef>& batch) override {
    if (task_ == 0 || buffer_.empty()) return {};
    return workload.loss(buffer_.sample(static_cast<Index>(batch.size())));
  }
  void after_step(Workload<T>&, const std::vector<ExampleRef>& batch, long) override { buffer_.offer(batch); }
  void save_state(StrategyState<T>& out) const override { out.fields["buffer"] = replay_buffer_json(buffer_); }
  void load_state(Workload<T>& workload, const StrategyState<T>& in) override {
    restore_replay_buffer(buffer_, in.field("buffer"), workload);
  }

  const ReplayBuffer& buffer() const { return buffer_; }

 private:
  ReplayBuffer buffer_;
  Index task_ = 0;
};

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_REPLAY_HPP
