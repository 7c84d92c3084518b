// everlora — attach LoRA to a model by name, PEFT's way, and merge it back.
//   LoraConfig config;
//   config.target_modules = {"q", "v", "fc1"};
//   attach(model, config);                 // every matching Linear becomes an AdaptedLinear
//   ... train model.trainable_parameters() ...
//   merge_and_unload(model);               // plain Linears with W0 + s·B·A again
// Like PEFT's get_peft_model, attach freezes every parameter that is not a LoRA expert's.
#ifndef EVERLORA_ADAPTERS_ATTACH_HPP
#define EVERLORA_ADAPTERS_ATTACH_HPP

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "everlora/adapters/adapted_linear.hpp"
#include "everlora/adapters/combiners/example_router.hpp"
#include "everlora/adapters/lora_config.hpp"

namespace everlora {

/// The adapted layers of a model, with their paths.
template <class T>
std::vector<std::pair<std::string, AdaptedLinear<T>*>> adapted_layers(Module<T>& model) {
  std::vector<std::pair<std::string, AdaptedLinear<T>*>> out;
  for (auto& [path, m] : model.named_modules())
    if (auto* adapted = dynamic_cast<AdaptedLinear<T>*>(m)) out.emplace_back(path, adapted);
  return out;
}

namespace detail {
/// The paths of the routers in `model` (SAPT's, MoA's).
template <class T>
std::vector<std::string> router_paths(Module<T>& model) {
  std::vector<std::string> routers;
  for (auto& [path, m] : model.named_modules())
    if (dynamic_cast<ExampleRouter<T>*>(m)) routers.push_back(path);
  return routers;
}
/// Whether `path` lies below one of `modules`.
inline bool below_any(const std::string& path, const std::vector<std::string>& modules) {
  for (const auto& m : modules)
    if (path.compare(0, m.size() + 1, m + ".") == 0) return true;
  return false;
}
/// Splits "blocks.0.attn.q" into the parent "blocks.0.attn" and the child "q".
inline std::pair<std::string, std::string> split_path(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? std::make_pair(std::string(), path)
                                  : std::make_pair(path.substr(0, dot), path.substr(dot + 1));
}
}  // namespace detail

/// The parameters of `model` that are not adapter state (experts, combiners, gates, routers): the
/// base model's, as the adapters see it (merged experts included), with their paths.
template <class T>
std::vector<std::pair<std::string, Tensor<T>>> base_parameters(Module<T>& model) {
  const std::vector<std::string> routers = detail::router_paths(model);
  std::vector<std::pair<std::string, Tensor<T>>> out;
  for (auto& [name, p] : model.named_parameters())
    if (name.find(".experts.") == std::string::npos && name.find(".combiner.") == std::string::npos &&
        name.find(".gate.") == std::string::npos && !detail::below_any(name, routers))
      out.emplace_back(name, p);
  return out;
}

/// Adds expert `expert` (config's rank, alpha, init) to every Linear whose path config targets,
/// turning plain Linears into AdaptedLinears; freezes the base model's parameters (experts,
/// combiners, gates and routers keep what their strategy set; a router's own Linears are never
/// targets). Returns the adapted paths.
/// Throws Error(config) when no target matches or a target names something that is not a Linear.
template <class T>
std::vector<std::string> attach(Module<T>& model, const LoraConfig& config,
                                const std::string& expert = "default") {
  config.validate();
  std::vector<std::string> targets;
  const std::vector<std::string> routers = detail::router_paths(model);
  std::string linears;
  for (auto& [path, m] : model.named_modules()) {
    if (path.empty() || dynamic_cast<LoraExpert<T>*>(m) || path.find(".experts.") != std::string::npos ||
        detail::below_any(path, routers) || dynamic_cast<ExampleRouter<T>*>(m))
      continue;
    const bool is_linear = dynamic_cast<Linear<T>*>(m) != nullptr;
    if (is_linear && linears.size() < 200) linears += (linears.empty() ? "" : ", ") + path;
    if (!config.targets(path)) continue;
    if (!is_linear)
      throw Error(ErrorKind::config, "attach: target '" + path + "' is a " + m->type_name() + ", not a Linear");
    targets.push_back(path);
  }
  if (targets.empty()) {
    std::string wanted;
    for (const auto& t : config.target_modules) wanted += (wanted.empty() ? "" : ", ") + t;
    throw Error(ErrorKind::config, "attach: target_modules [" + wanted + "] match no Linear of the " +
                                       model.type_name() + " (Linears: " + (linears.empty() ? "none" : linears) + ")");
  }
  for (auto& [name, p] : base_parameters(model)) Tensor<T>(p).requires_grad_(false);
  Rng rng(config.seed);
  for (const auto& path : targets) {
    Module<T>& found = model.find(path);
    auto* adapted = dynamic_cast<AdaptedLinear<T>*>(&found);
    if (!adapted) {
      const auto [parent, child] = detail::split_path(path);
      auto replacement = std::make_shared<AdaptedLinear<T>>(dynamic_cast<Linear<T>&>(found), config.seed + targets.size());
      adapted = replacement.get();
      model.find(parent).replace_child(child, replacement);
    }
    adapted->add_expert(expert, config, rng);
  }
  return targets;
}

/// Folds all experts into the base weights and puts plain Linears back in their places.
template <class T>
void merge_and_unload(Module<T>& model) {
  for (auto& [path, layer] : adapted_layers(model)) {
    if (!layer->merged()) layer->merge();
    const auto [parent, child] = detail::split_path(path);
    auto plain = std::make_shared<Linear<T>>(layer->weight(), layer->has_bias() ? layer->bias() : Tensor<T>());
    model.find(parent).replace_child(child, plain);
  }
}

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_ATTACH_HPP
