// everlora — ExpertBank: the named LoRA experts of one adapted layer, in the order they were added.
// Expert e's parameters live at <layer>.experts.<name>.lora_A / .lora_B.
#ifndef EVERLORA_ADAPTERS_EXPERT_BANK_HPP
#define EVERLORA_ADAPTERS_EXPERT_BANK_HPP

#include <memory>
#include <string>
#include <vector>

#include "everlora/adapters/lora_expert.hpp"

namespace everlora {

/// The experts of one adapted layer, in the order they were added, children named by expert.
template <class T>
class ExpertBank : public Module<T> {
 public:
  const char* type_name() const override { return "ExpertBank"; }

  LoraExpert<T>& add(const std::string& name, Index in, Index out, const LoraConfig& config, Rng& rng) {
    if (has(name))
      throw Error(ErrorKind::config, "ExpertBank: an expert named '" + name + "' already exists");
    experts_.push_back(std::make_shared<LoraExpert<T>>(in, out, config, rng));
    names_.push_back(name);
    this->register_child(name, experts_.back(), [](const std::shared_ptr<Module<T>>&) {
      throw Error(ErrorKind::config, "ExpertBank: experts are added and removed, not replaced");
    });
    return *experts_.back();
  }
  void remove(const std::string& name) {
    const std::size_t i = index_of(name);
    this->unregister_child(name);
    experts_.erase(experts_.begin() + static_cast<std::ptrdiff_t>(i));
    names_.erase(names_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  bool has(const std::string& name) const {
    for (const auto& n : names_)
      if (n == name) return true;
    return false;
  }
  LoraExpert<T>& get(const std::string& name) { return *experts_[index_of(name)]; }
  LoraExpert<T>& operator[](std::size_t i) { return *experts_.at(i); }
  const LoraExpert<T>& operator[](std::size_t i) const { return *experts_.at(i); }
  const std::vector<std::string>& names() const { return names_; }
  std::size_t size() const { return experts_.size(); }

 private:
  std::size_t index_of(const std::string& name) const {
    for (std::size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == name) return i;
    std::string known;
    for (const auto& n : names_) known += (known.empty() ? "" : ", ") + n;
    throw Error(ErrorKind::config, "ExpertBank: no expert '" + name + "' (experts: " +
                                       (known.empty() ? "none" : known) + ")");
  }

  std::vector<std::shared_ptr<LoraExpert<T>>> experts_;
  std::vector<std::string> names_;
};

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_EXPERT_BANK_HPP
