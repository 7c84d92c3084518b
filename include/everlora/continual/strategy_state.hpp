// everlora — StrategyState<T>: what a strategy keeps beyond the model's parameters (replay buffers,
// slow copies, pseudo samples, counters), as named tensors plus JSON, for run checkpoints
// (continual/run_checkpoint.hpp). A strategy that wraps another nests the inner one's state under
// a name. Reading a field that is missing or of the wrong type is Error(format) naming it.
#ifndef EVERLORA_CONTINUAL_STRATEGY_STATE_HPP
#define EVERLORA_CONTINUAL_STRATEGY_STATE_HPP

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "everlora/continual/replay_buffer.hpp"
#include "everlora/core/error.hpp"
#include "everlora/core/state_dict.hpp"

namespace everlora {

template <class T>
struct StrategyState {
  StateDict<T> tensors;                            ///< "pseudo/0", "slow/<parameter path>", …
  nlohmann::json fields = nlohmann::json::object();  ///< counters, flags, small lists

  /// Field `key`; Error(format) naming it when it is missing.
  const nlohmann::json& field(const std::string& key) const {
    const auto it = fields.find(key);
    if (it == fields.end()) throw Error(ErrorKind::format, "checkpoint: the strategy state has no field '" + key + "'");
    return *it;
  }
  /// Field `key` as a V; Error(format) naming it when it is missing or not a V.
  template <class V>
  V get(const std::string& key) const {
    try {
      return field(key).template get<V>();
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorKind::format, "checkpoint: strategy state field '" + key + "': " + e.what());
    }
  }
  /// Tensor `key`; Error(format) naming it when it is missing.
  const Tensor<T>& tensor(const std::string& key) const {
    const auto it = tensors.find(key);
    if (it == tensors.end()) throw Error(ErrorKind::format, "checkpoint: the strategy state has no tensor '" + key + "'");
    return it->second;
  }

  /// Stores `inner` (a wrapped strategy's state) under `name`.
  void nest(const std::string& name, StrategyState inner) {
    for (auto& [key, t] : inner.tensors) tensors.emplace(name + "/" + key, std::move(t));
    fields[name] = std::move(inner.fields);
  }
  /// The state nest(name, …) stored.
  StrategyState nested(const std::string& name) const {
    StrategyState inner;
    inner.fields = field(name);
    const std::string prefix = name + "/";
    for (const auto& [key, t] : tensors)
      if (key.compare(0, prefix.size(), prefix) == 0) inner.tensors.emplace(key.substr(prefix.size()), t);
    return inner;
  }
};

/// A replay buffer's examples, offer count and generator, as JSON.
inline nlohmann::json replay_buffer_json(const ReplayBuffer& buffer) {
  nlohmann::json items = nlohmann::json::array();
  for (const ExampleRef& e : buffer.items()) items.push_back({e.task, e.index});
  return {{"items", std::move(items)}, {"seen", buffer.seen()}, {"rng", buffer.rng_state()}};
}

/// Restores what replay_buffer_json wrote; Error(format) when it does not fit the buffer.
inline void restore_replay_buffer(ReplayBuffer& buffer, const nlohmann::json& saved) {
  try {
    std::vector<ExampleRef> items;
    for (const auto& item : saved.at("items")) items.push_back({item.at(0).get<Index>(), item.at(1).get<Index>()});
    buffer.restore(std::move(items), saved.at("seen").get<long>(), saved.at("rng").get<std::uint64_t>());
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::format, std::string("checkpoint: replay buffer: ") + e.what());
  }
}

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_STRATEGY_STATE_HPP
