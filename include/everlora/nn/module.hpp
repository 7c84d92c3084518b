// everlora — Module: the base of every layer and model.
//
// A module owns named parameters (Tensor members it registers) and named children (shared_ptr
// members it registers). Names compose into PyTorch-style paths ("blocks.0.attn.q.weight"), which
// the state dict, safetensors files, PEFT adapter files and attach-by-name all use.
//
//   class Scale : public Module<float> {
//    public:
//     Scale() { register_parameter("gain", gain_, Tensor<float>::ones({1})); }
//    private:
//     Tensor<float> gain_;
//   };
//
// Modules are neither copyable nor movable (registration keeps pointers to the members); hold
// them by std::shared_ptr.
#ifndef EVERLORA_NN_MODULE_HPP
#define EVERLORA_NN_MODULE_HPP

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "everlora/core/autograd.hpp"
#include "everlora/core/state_dict.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

template <class T>
class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// A short type name for messages and summaries ("Linear", "GPT").
  virtual const char* type_name() const = 0;

  // ---- parameters ------------------------------------------------------------------------------
  /// Every parameter of this module and its descendants, with its path, in registration order.
  std::vector<std::pair<std::string, Tensor<T>>> named_parameters() const {
    std::vector<std::pair<std::string, Tensor<T>>> out;
    collect_parameters("", out);
    return out;
  }
  std::vector<Tensor<T>> parameters() const {
    std::vector<Tensor<T>> out;
    for (auto& [name, p] : named_parameters()) out.push_back(p);
    return out;
  }
  /// The parameters an optimizer should update: those with requires_grad set.
  std::vector<Tensor<T>> trainable_parameters() const {
    std::vector<Tensor<T>> out;
    for (auto& [name, p] : named_parameters())
      if (p.requires_grad()) out.push_back(p);
    return out;
  }
  /// Number of scalar parameters (all, or only the trainable ones).
  Index num_parameters(bool trainable_only = false) const {
    Index n = 0;
    for (auto& [name, p] : named_parameters())
      if (!trainable_only || p.requires_grad()) n += p.numel();
    return n;
  }

  // ---- children --------------------------------------------------------------------------------
  /// This module ("") and every descendant, with its path, parents before children.
  std::vector<std::pair<std::string, Module*>> named_modules() {
    std::vector<std::pair<std::string, Module*>> out{{"", this}};
    for (auto& c : children_)
      for (auto& [path, m] : c.module->named_modules())
        out.emplace_back(path.empty() ? c.name : c.name + "." + path, m);
    return out;
  }
  /// The direct child called `name`; throws naming the known children when there is none.
  Module& child(const std::string& name) const { return *children_[child_index(name)].module; }
  /// The module at a dotted path below this one ("blocks.0.attn").
  Module& find(const std::string& path) {
    Module* m = this;
    std::size_t start = 0;
    while (start <= path.size() && !path.empty()) {
      const std::size_t dot = path.find('.', start);
      m = &m->child(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    return *m;
  }
  /// Replaces the direct child `name` (e.g. a Linear by an adapted one). The replacement must be
  /// usable where the old child was: the owner's typed slot checks this and throws otherwise.
  void replace_child(const std::string& name, std::shared_ptr<Module> replacement) {
    Child& c = children_[child_index(name)];
    c.assign(replacement);
    c.module = std::move(replacement);
  }

  /// Adds `module` as a new direct child `name` from outside (e.g. a router that every adapted
  /// layer of a model shares, kept once at the model's root so it is trained and saved once).
  void add_child(const std::string& name, std::shared_ptr<Module> module) {
    if (!module) throw Error(ErrorKind::config, std::string(type_name()) + "::add_child('" + name + "'): no module");
    register_child(name, std::move(module), [](const std::shared_ptr<Module>&) {});
  }

  // ---- modes -----------------------------------------------------------------------------------
  /// Training mode (dropout active) for this module and every descendant.
  void train(bool on = true) {
    training_ = on;
    for (auto& c : children_) c.module->train(on);
  }
  void eval() { train(false); }
  bool training() const { return training_; }

  /// Stops (or restarts) gradient for every parameter below this module.
  void freeze() { set_requires_grad(false); }
  void unfreeze() { set_requires_grad(true); }
  void zero_grad() {
    for (auto& [name, p] : named_parameters()) p.zero_grad();
  }

  // ---- state -----------------------------------------------------------------------------------
  /// Path → parameter, sharing storage (a snapshot needs clone()).
  StateDict<T> state_dict() const {
    StateDict<T> out;
    for (auto& [name, p] : named_parameters()) out.emplace(name, p);
    return out;
  }
  /// Copies values from `state` into the parameters. strict: every parameter must be present and
  /// no extra key may appear. Shapes must match. Errors name the key and both shapes.
  void load_state_dict(const StateDict<T>& state, bool strict = true) {
    std::size_t used = 0;
    for (auto& [name, p] : named_parameters()) {
      const auto it = state.find(name);
      if (it == state.end()) {
        if (strict)
          throw Error(ErrorKind::format, std::string(type_name()) +
                                             "::load_state_dict: missing parameter '" + name + "'");
        continue;
      }
      if (it->second.shape() != p.shape())
        throw Error(ErrorKind::shape, std::string(type_name()) + "::load_state_dict: '" + name +
                                          "' has shape " + it->second.shape().str() +
                                          " but the module expects " + p.shape().str());
      Tensor<T> dst = p;
      const Tensor<T> values = it->second.as_f32();
      if constexpr (std::is_same_v<T, float>)
        if (dst.held_in_bf16()) detail::encode_bf16(values.data(), values.numel(), dst.bf16_data());  // rounded
      if (!dst.held_in_bf16()) dst.vec() = values.vec();
      ++used;
    }
    if (strict && used != state.size())
      for (auto& [name, t] : state) {
        bool known = false;
        for (auto& [own, p] : named_parameters()) known = known || own == name;
        if (!known)
          throw Error(ErrorKind::format, std::string(type_name()) +
                                             "::load_state_dict: unexpected parameter '" + name + "'");
      }
  }

 protected:
  /// Registers `slot` (a member) as parameter `name`, initialised to `value`, requiring grad
  /// (unless it is held in bf16, which is for frozen weights).
  Tensor<T>& register_parameter(const std::string& name, Tensor<T>& slot, Tensor<T> value) {
    check_new_name(name);
    slot = std::move(value);
    if (!slot.held_in_bf16()) slot.requires_grad_();
    params_.push_back({name, &slot});
    return slot;
  }
  /// Registers `slot` (a shared_ptr member of a Module type) as child `name`.
  template <class M>
  std::shared_ptr<M>& register_module(const std::string& name, std::shared_ptr<M>& slot,
                                      std::shared_ptr<M> module) {
    check_new_name(name);
    slot = std::move(module);
    children_.push_back({name, slot, [this, &slot, name](const std::shared_ptr<Module>& m) {
                           auto typed = std::dynamic_pointer_cast<M>(m);
                           if (!typed)
                             throw Error(ErrorKind::config,
                                         std::string(type_name()) + ": child '" + name +
                                             "' cannot be replaced by a " + m->type_name());
                           slot = std::move(typed);
                         }});
    return slot;
  }
  /// Removes the direct child `name` (e.g. an expert merged away).
  void unregister_child(const std::string& name) {
    children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(child_index(name)));
  }
  /// Registers an element of a list of children (ModuleList); `assign` stores a replacement.
  void register_child(const std::string& name, std::shared_ptr<Module> module,
                      std::function<void(const std::shared_ptr<Module>&)> assign) {
    check_new_name(name);
    children_.push_back({name, std::move(module), std::move(assign)});
  }

 private:
  struct Param {
    std::string name;
    Tensor<T>* slot;
  };
  struct Child {
    std::string name;
    std::shared_ptr<Module> module;
    std::function<void(const std::shared_ptr<Module>&)> assign;
  };

  void collect_parameters(const std::string& prefix,
                          std::vector<std::pair<std::string, Tensor<T>>>& out) const {
    for (const auto& p : params_) out.emplace_back(prefix + p.name, *p.slot);
    for (const auto& c : children_) c.module->collect_parameters(prefix + c.name + ".", out);
  }
  void set_requires_grad(bool on) {
    for (auto& p : params_) p.slot->requires_grad_(on);
    for (auto& c : children_) c.module->set_requires_grad(on);
  }
  std::size_t child_index(const std::string& name) const {
    for (std::size_t i = 0; i < children_.size(); ++i)
      if (children_[i].name == name) return i;
    std::string known;
    for (const auto& c : children_) known += (known.empty() ? "" : ", ") + c.name;
    throw Error(ErrorKind::config, std::string(type_name()) + " has no child '" + name +
                                       "' (children: " + (known.empty() ? "none" : known) + ")");
  }
  void check_new_name(const std::string& name) const {
    bool taken = false;
    for (const auto& p : params_) taken = taken || p.name == name;
    for (const auto& c : children_) taken = taken || c.name == name;
    if (name.empty() || name.find('.') != std::string::npos || taken)
      throw Error(ErrorKind::config, std::string(type_name()) + ": invalid or duplicate name '" +
                                         name + "'");
  }

  std::vector<Param> params_;
  std::vector<Child> children_;
  bool training_ = true;
};

/// An indexed list of child modules of one type, named "0", "1", … (GPT's blocks).
template <class T, class M>
class ModuleList : public Module<T> {
 public:
  const char* type_name() const override { return "ModuleList"; }

  M& push_back(std::shared_ptr<M> module) {
    const std::size_t i = items_.size();
    items_.push_back(module);
    this->register_child(std::to_string(i), module, [this, i](const std::shared_ptr<Module<T>>& m) {
      auto typed = std::dynamic_pointer_cast<M>(m);
      if (!typed)
        throw Error(ErrorKind::config, "ModuleList: element " + std::to_string(i) +
                                           " cannot be replaced by a " + m->type_name());
      items_[i] = std::move(typed);
    });
    return *items_.back();
  }
  std::size_t size() const { return items_.size(); }
  M& operator[](std::size_t i) { return *items_.at(i); }
  const M& operator[](std::size_t i) const { return *items_.at(i); }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

/// Eval mode for one scope: `module` and its descendants go to eval mode and get the module's
/// previous mode back when the scope ends, also through an exception.
template <class T>
class EvalMode {
 public:
  explicit EvalMode(Module<T>& module) : module_(module), was_training_(module.training()) { module.eval(); }
  ~EvalMode() { module_.train(was_training_); }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;

 private:
  Module<T>& module_;
  bool was_training_;
};

}  // namespace everlora

#endif  // EVERLORA_NN_MODULE_HPP
