// everlora — text tasks as token sequences, in bytes for the byte-level GPT or in a model's own
// tokens (data/text_codec.hpp):
// the prompt format, the encoding of an example (trained on its output bytes only), padded
// next-token batches, answer normalisation for exact-match scoring, and the seeded epoch order.
// @sa docs/concepts/data.md
#ifndef EVERLORA_DATA_PROMPT_HPP
#define EVERLORA_DATA_PROMPT_HPP

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "everlora/config.hpp"
#include "everlora/core/error.hpp"
#include "everlora/core/random.hpp"
#include "everlora/data/byte_tokenizer.hpp"
#include "everlora/data/text_codec.hpp"
#include "everlora/data/task.hpp"

namespace everlora {

/// The target of a position that is not trained on: the ignore index of cross_entropy
/// (kIgnoreIndex in core/ops/loss.hpp, which this data header does not pull in; tests/data checks
/// that the two agree).
inline constexpr std::int32_t kNoTarget = -100;

/// The prompt of an exact-match example, byte for byte:
///
///     <instruction>\n
///     Options: <label 1>, <label 2>, …\n      (only for a task with labels)
///     Input: <input>\n
///     Output:
///
/// with no newline after "Output:". The answer follows after ByteVocab::kSep (encode_example).
/// next_byte tasks have no prompt: the model reads `input` itself.
inline std::string format_prompt(const Example& ex, const TaskSpec& spec) {
  std::string p = ex.instruction + "\n";
  if (!spec.labels.empty()) {
    p += "Options: ";
    for (std::size_t i = 0; i < spec.labels.size(); ++i) p += (i ? ", " : "") + spec.labels[i];
    p += "\n";
  }
  return p + "Input: " + ex.input + "\nOutput:";
}

/// One example as token ids. Positions ≥ prompt_len are the ones trained on (their token is a
/// target), so ids[prompt_len] is the first output token.
struct EncodedExample {
  std::vector<std::int32_t> ids;
  Index prompt_len = 0;
};

namespace detail {

/// [BOS] + the last `body` tokens of `prompt` + [separator], as the codec has them.
inline std::vector<std::int32_t> prompt_ids(const std::vector<std::int32_t>& prompt, Index body, const TextCodec& codec) {
  std::vector<std::int32_t> ids;
  ids.reserve(static_cast<std::size_t>(body) + 2);
  if (const auto bos = codec.bos()) ids.push_back(*bos);
  ids.insert(ids.end(), prompt.end() - body, prompt.end());
  if (const auto sep = codec.separator()) ids.push_back(*sep);
  return ids;
}

/// How many special ids surround a prompt (BOS, separator).
inline Index prompt_frame(const TextCodec& codec) { return (codec.bos() ? 1 : 0) + (codec.separator() ? 1 : 0); }

}  // namespace detail

/// The tokens of one example, at most `max_len` of them. With the byte codec:
///   exact_match: [kBos] + format_prompt bytes + [kSep] + output bytes + [kEos];
///                prompt_len = index of the first output byte (1 + prompt bytes + 1), so the model
///                is trained on the output bytes and on kEos (to stop). If that is longer than
///                max_len, bytes are dropped from the start of the prompt (kBos and the prompt's
///                end, which holds the input and "Output:", stay; the output is never cut).
///   next_byte:   [kBos] + input bytes + [kEos], cut to the first max_len tokens; prompt_len = 1
///                (every next byte is a target).
/// A tokenizer codec is the same in its own tokens: [BOS if the model has one] + prompt tokens +
/// the tokens of " " + output + [EOS] (TextCodec says which).
/// Throws Error(value) if max_len < 2, or if the output with its special ids needs more than
/// max_len tokens (naming both lengths and the task).
inline EncodedExample encode_example(const Example& ex, const TaskSpec& spec, Index max_len,
                                     const TextCodec& codec = TextCodec::bytes()) {
  if (max_len < 2)
    throw Error(ErrorKind::value, "encode_example: task '" + spec.name + "': max_len " +
                                      std::to_string(max_len) + " leaves no token to predict");
  EncodedExample e;
  if (spec.metric == TaskMetric::next_byte) {
    if (const auto bos = codec.bos()) e.ids.push_back(*bos);
    const std::vector<std::int32_t> text = codec.encode(ex.input);
    e.ids.insert(e.ids.end(), text.begin(), text.end());
    e.ids.push_back(codec.eos());
    if (static_cast<Index>(e.ids.size()) > max_len) e.ids.resize(static_cast<std::size_t>(max_len));
    e.prompt_len = 1;
    return e;
  }
  std::vector<std::int32_t> answer = codec.encode(codec.answer_prefix() + ex.output);
  answer.push_back(codec.eos());
  const Index out = static_cast<Index>(answer.size()) - 1, frame = detail::prompt_frame(codec);
  if (out + 1 + frame > max_len)
    throw Error(ErrorKind::value,
                "encode_example: task '" + spec.name + "': the output of " + std::to_string(out) +
                    " tokens needs " + std::to_string(out + 1 + frame) +
                    " tokens with BOS, SEP and EOS but max_len is " + std::to_string(max_len));
  const std::vector<std::int32_t> prompt = codec.encode(format_prompt(ex, spec));
  e.ids = detail::prompt_ids(prompt, std::min<Index>(static_cast<Index>(prompt.size()), max_len - out - 1 - frame), codec);
  e.prompt_len = static_cast<Index>(e.ids.size());
  e.ids.insert(e.ids.end(), answer.begin(), answer.end());
  return e;
}

/// The prompt of an exact-match example as greedy decoding starts from it: [BOS] + format_prompt
/// tokens + [separator], at most `max_len` tokens (tokens dropped from the start of the prompt,
/// as in encode_example). Throws Error(value) if max_len < 2, or for a next_byte task (it has no
/// prompt).
inline std::vector<std::int32_t> encode_prompt(const Example& ex, const TaskSpec& spec, Index max_len,
                                               const TextCodec& codec = TextCodec::bytes()) {
  if (spec.metric == TaskMetric::next_byte)
    throw Error(ErrorKind::value, "encode_prompt: task '" + spec.name +
                                      "' is a next_byte task: it has no prompt to answer");
  const Index frame = detail::prompt_frame(codec);
  if (max_len < std::max<Index>(2, frame))
    throw Error(ErrorKind::value, "encode_prompt: task '" + spec.name + "': max_len " +
                                      std::to_string(max_len) + " cannot hold BOS and SEP");
  const std::vector<std::int32_t> prompt = codec.encode(format_prompt(ex, spec));
  return detail::prompt_ids(prompt, std::min<Index>(static_cast<Index>(prompt.size()), max_len - frame), codec);
}

/// Encoded examples as one padded next-token batch, row-major [batch, seq] with
/// seq = (longest example) − 1. Row b holds input ids[0 .. n−2] of example b, then kPad;
/// targets[b, t] = ids[t + 1] where t + 1 ≥ prompt_len (an output token), kNoTarget elsewhere
/// (prompt and padding); mask[b, t] = 1 on the example's own positions, 0 on padding.
struct TokenBatch {
  Index batch = 0, seq = 0;
  std::vector<std::int32_t> ids;
  std::vector<std::int32_t> targets;
  std::vector<float> mask;
};

/// The batch of `examples` (see TokenBatch), padded to at least `min_seq` positions (a part of a
/// data-parallel batch is padded to the whole batch's length). Throws Error(value) for no
/// examples, a null pointer, or an example with fewer than 2 tokens or a prompt_len outside
/// 1 .. (tokens − 1), naming it.
inline TokenBatch make_token_batch(const std::vector<const EncodedExample*>& examples, Index min_seq = 0,
                                   std::int32_t pad = ByteVocab::kPad) {
  if (examples.empty()) throw Error(ErrorKind::value, "make_token_batch: no examples");
  Index longest = 0;
  for (std::size_t b = 0; b < examples.size(); ++b) {
    const EncodedExample* e = examples[b];
    if (e == nullptr)
      throw Error(ErrorKind::value, "make_token_batch: example " + std::to_string(b) + " is null");
    const Index n = static_cast<Index>(e->ids.size());
    if (n < 2 || e->prompt_len < 1 || e->prompt_len > n - 1)
      throw Error(ErrorKind::value, "make_token_batch: example " + std::to_string(b) + " has " +
                                        std::to_string(n) + " tokens and prompt_len " +
                                        std::to_string(e->prompt_len) +
                                        " (needs 2 or more tokens and 1 <= prompt_len < tokens)");
    longest = std::max(longest, n);
  }
  TokenBatch out;
  out.batch = static_cast<Index>(examples.size());
  out.seq = std::max(longest - 1, min_seq);
  const std::size_t size = static_cast<std::size_t>(out.batch * out.seq);
  out.ids.assign(size, pad);
  out.targets.assign(size, kNoTarget);
  out.mask.assign(size, 0.0f);
  for (Index b = 0; b < out.batch; ++b) {
    const EncodedExample& e = *examples[static_cast<std::size_t>(b)];
    const Index n = static_cast<Index>(e.ids.size());
    for (Index t = 0; t + 1 < n; ++t) {
      const std::size_t at = static_cast<std::size_t>(b * out.seq + t);
      out.ids[at] = e.ids[static_cast<std::size_t>(t)];
      out.mask[at] = 1.0f;
      if (t + 1 >= e.prompt_len) out.targets[at] = e.ids[static_cast<std::size_t>(t + 1)];
    }
  }
  return out;
}

/// The positions of a TokenBatch that have a target (the answers' tokens, as indices into the
/// batch·seq positions, in order) and those targets: all a loss or a label's likelihood reads.
struct ScoredRows {
  std::vector<std::int32_t> rows, targets;
};

inline ScoredRows scored_rows(const TokenBatch& batch) {
  ScoredRows out;
  for (std::size_t at = 0; at < batch.targets.size(); ++at)
    if (batch.targets[at] != kNoTarget) {
      out.rows.push_back(static_cast<std::int32_t>(at));
      out.targets.push_back(batch.targets[at]);
    }
  return out;
}

/// `s` without leading and trailing ASCII whitespace, with A–Z lower-cased (bytes ≥ 0x80 and the
/// locale are left alone).
inline std::string normalise_answer(std::string s) {
  const auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  std::size_t begin = 0, end = s.size();
  while (begin < end && space(s[begin])) ++begin;
  while (end > begin && space(s[end - 1])) --end;
  s = s.substr(begin, end - begin);
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

/// The exact-match score of one answer: equal after normalise_answer.
inline bool exact_match(const std::string& predicted, const std::string& gold) {
  return normalise_answer(predicted) == normalise_answer(gold);
}

/// A permutation of 0 .. n−1 for one epoch: Fisher–Yates driven by an Rng seeded from `seed` and
/// `epoch`, so the same arguments give the same order on every platform; epochs differ.
/// Throws Error(value) if n or epoch is negative.
inline std::vector<Index> shuffled_order(Index n, std::uint64_t seed, Index epoch) {
  if (n < 0 || epoch < 0)
    throw Error(ErrorKind::value, "shuffled_order: n " + std::to_string(n) + " and epoch " +
                                      std::to_string(epoch) + " must not be negative");
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index(0));
  Rng rng(detail::mix64(seed ^
                        detail::mix64(static_cast<std::uint64_t>(epoch) + 0x9e3779b97f4a7c15ULL)));
  for (Index i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::size_t>(rng.below(static_cast<std::uint64_t>(i) + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[j]);
  }
  return order;
}

}  // namespace everlora

#endif  // EVERLORA_DATA_PROMPT_HPP
