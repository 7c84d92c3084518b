// everlora — text generation from a causal language model (GPT, DecoderLM): greedy or sampled (temperature, top-k) decoding over a
// KV cache, so each new token costs one position's forward pass.
//   GenerateOptions opt;
//   opt.temperature = 0.8;
//   opt.top_k = 40;
//   std::vector<std::int32_t> continuation = generate(model, prompt_ids, opt, rng);
#ifndef EVERLORA_NN_GENERATE_HPP
#define EVERLORA_NN_GENERATE_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "everlora/nn/causal_lm.hpp"

namespace everlora {

struct GenerateOptions {
  Index max_new_tokens = 64;
  double temperature = 1.0;  // ≤ 0 means greedy
  int top_k = 0;             // 0: sample from the whole vocabulary
  bool greedy = false;       // argmax at every step (temperature and top_k ignored)
  std::int32_t stop_id = -1; // stop after this id is produced (it is not returned); −1: never
};

namespace detail {

/// Picks the next id from one row of logits.
template <class T>
std::int32_t pick_next(const T* logits, Index vocab, const GenerateOptions& opt, Rng& rng) {
  if (opt.greedy || opt.temperature <= 0.0)
    return static_cast<std::int32_t>(std::max_element(logits, logits + vocab) - logits);
  std::vector<std::int32_t> ids(static_cast<std::size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  std::size_t keep = ids.size();
  if (opt.top_k > 0 && static_cast<std::size_t>(opt.top_k) < ids.size()) {
    keep = static_cast<std::size_t>(opt.top_k);
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(keep), ids.end(),
                      [&](std::int32_t a, std::int32_t b) { return logits[a] > logits[b]; });
  }
  double top = -INFINITY;
  for (std::size_t i = 0; i < keep; ++i) top = std::max(top, static_cast<double>(logits[ids[i]]));
  std::vector<double> weights(keep);
  double total = 0;
  for (std::size_t i = 0; i < keep; ++i)
    total += weights[i] = std::exp((static_cast<double>(logits[ids[i]]) - top) / opt.temperature);
  double u = rng.uniform() * total;
  for (std::size_t i = 0; i < keep; ++i) {
    u -= weights[i];
    if (u < 0) return ids[i];
  }
  return ids[keep - 1];
}

}  // namespace detail

/// Continues `prompt` (at least one id) and returns the new ids. Runs in eval mode without a
/// graph; the model's training mode is restored afterwards. Stops at max_new_tokens, at stop_id,
/// or when the context is full.
template <class T>
std::vector<std::int32_t> generate(CausalLM<T>& model, const std::vector<std::int32_t>& prompt,
                                   const GenerateOptions& options, Rng& rng) {
  if (prompt.empty()) throw Error(ErrorKind::value, "generate: the prompt is empty");
  const Index context = model.context(), vocab = model.vocab_size();
  if (static_cast<Index>(prompt.size()) > context)
    throw Error(ErrorKind::shape, "generate: prompt of " + std::to_string(prompt.size()) +
                                      " ids exceeds the context of " + std::to_string(context));
  NoGrad no_graph;
  const EvalMode<T> eval_mode(model);  // back to the caller's mode, even if an exception leaves early
  KvCache<T> cache;
  const auto length = static_cast<Index>(prompt.size());
  Tensor<T> logits = model.forward_at(prompt, 1, length, {static_cast<std::int32_t>(length - 1)}, &cache);  // the last position's
  std::vector<std::int32_t> out;
  while (static_cast<Index>(out.size()) < options.max_new_tokens) {
    const std::int32_t next = detail::pick_next(logits.data(), vocab, options, rng);
    if (next == options.stop_id) break;
    out.push_back(next);
    if (cache.length >= context) break;
    logits = model.forward({next}, 1, 1, &cache);
  }
  return out;
}

}  // namespace everlora

#endif  // EVERLORA_NN_GENERATE_HPP
