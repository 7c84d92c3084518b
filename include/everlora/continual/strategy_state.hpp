// everlora — StrategyState<T>: what a strategy keeps beyond the model's parameters (replay buffers,
// slow copies, pseudo samples, counters), as named tensors plus JSON, for run checkpoints
// (continual/run_checkpoint.hpp). A strategy that wraps another nests the inner one's state under
// a name. Reading a field that is missing or of the wrong type is Error(format) naming it, and so
// is a count that is not a whole number in [0, 2^40].
#ifndef EVERLORA_CONTINUAL_STRATEGY_STATE_HPP
#define EVERLORA_CONTINUAL_STRATEGY_STATE_HPP

#include <nlohmann/json.hpp>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "everlora/continual/replay_buffer.hpp"
#include "everlora/core/error.hpp"
#include "everlora/core/state_dict.hpp"

namespace everlora {

namespace detail {

/// Whether `value` is an integer >= 0 (parsed from text, nlohmann stores these as unsigned; set in
/// code, as signed).
inline bool is_whole_number(const nlohmann::json& value) {
  return value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0);
}

/// `value` as a V; Error(format) naming `what` when it is of another JSON type, or, for an integer
/// V, not an integer in [0, 2^40] (counts and indices: a float or a huge number would not convert).
template <class V>
V checked_json_value(const nlohmann::json& value, const std::string& what) {
  if constexpr (std::is_integral_v<V> && !std::is_same_v<V, bool>) {
    if (!is_whole_number(value) || value.get<std::uint64_t>() > (std::uint64_t{1} << 40))
      throw Error(ErrorKind::format, what + " is " + value.dump() + ", not a count");
    return static_cast<V>(value.get<std::uint64_t>());
  } else {
    try {
      return value.get<V>();
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorKind::format, what + ": " + e.what());
    }
  }
}

}  // namespace detail

template <class T>
struct StrategyState {
  StateDict<T> tensors;                              ///< "pseudo/0", "slow/<parameter path>", …
  nlohmann::json fields = nlohmann::json::object();  ///< counters, flags, small lists
  std::string path = "strategy";                    ///< where this state sits, for messages

  /// Field `key`; Error(format) naming it when it is missing.
  const nlohmann::json& field(const std::string& key) const {
    if (!fields.is_object() || !fields.contains(key))
      throw Error(ErrorKind::format, "the checkpoint's " + path + " state has no field '" + key + "'");
    return fields[key];
  }
  /// Field `key` as a V (detail::checked_json_value); Error(format) naming it otherwise.
  template <class V>
  V get(const std::string& key) const {
    return detail::checked_json_value<V>(field(key), "the checkpoint's " + path + " field '" + key + "'");
  }
  /// Tensor `key`; Error(format) naming it when it is missing or its shape is not `shape` (when
  /// given).
  const Tensor<T>& tensor(const std::string& key, const Shape* shape = nullptr) const {
    const auto it = tensors.find(key);
    if (it == tensors.end()) throw Error(ErrorKind::format, "the checkpoint's " + path + " state has no tensor '" + key + "'");
    if (shape && it->second.shape() != *shape)
      throw Error(ErrorKind::format, "the checkpoint's " + path + " tensor '" + key + "' is " + it->second.shape().str() +
                                         ", not " + shape->str());
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
    if (!inner.fields.is_object())
      throw Error(ErrorKind::format, "the checkpoint's " + path + " field '" + name + "' is not an object");
    inner.path = path + "/" + name;
    inner.tensors = tensors_under(tensors, name + "/");
    return inner;
  }
};

/// A replay buffer's examples, offer count and generator, as JSON.
inline nlohmann::json replay_buffer_json(const ReplayBuffer& buffer) {
  nlohmann::json items = nlohmann::json::array();
  for (const ExampleRef& e : buffer.items()) items.push_back({e.task, e.index});
  return {{"items", std::move(items)}, {"seen", buffer.seen()}, {"rng", buffer.rng_state()}};
}

/// Restores what replay_buffer_json wrote; Error(format) when it does not fit the buffer or names
/// an example that `workload` does not have.
template <class T>
void restore_replay_buffer(ReplayBuffer& buffer, const nlohmann::json& saved, const Workload<T>& workload) {
  const std::string what = "the checkpoint's replay buffer";
  if (!saved.is_object() || !saved.contains("items") || !saved["items"].is_array() || !saved.contains("seen") || !saved.contains("rng"))
    throw Error(ErrorKind::format, what + " is not {items, seen, rng}");
  std::vector<ExampleRef> items;
  for (const auto& item : saved["items"]) {
    if (!item.is_array() || item.size() != 2) throw Error(ErrorKind::format, what + " holds " + item.dump() + ", not [task, index]");
    const ExampleRef e{detail::checked_json_value<Index>(item[0], what + "'s task"), detail::checked_json_value<Index>(item[1], what + "'s index")};
    if (e.task >= workload.num_tasks() || e.index >= workload.train_size(e.task))
      throw Error(ErrorKind::format, what + " holds example " + item.dump() + ", which the workload does not have");
    items.push_back(e);
  }
  if (!detail::is_whole_number(saved["rng"])) throw Error(ErrorKind::format, what + "'s generator state is not a 64-bit count");
  buffer.restore(std::move(items), detail::checked_json_value<long>(saved["seen"], what + "'s offer count"),
                 saved["rng"].get<std::uint64_t>());
}

}  // namespace everlora

#endif  // EVERLORA_CONTINUAL_STRATEGY_STATE_HPP
