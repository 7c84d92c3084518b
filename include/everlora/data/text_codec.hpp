// everlora — TextCodec: how a text workload turns prompts and answers into a model's ids. Two
// kinds: everlora's byte tokenizer (the byte-level GPT: ids 0–255 plus BOS, EOS, PAD and a
// separator between prompt and answer), or a model's own tokenizer.json (Llama, Qwen, GPT-2…:
// its BOS when it adds one, its EOS to end an answer, no separator; the answer is encoded with a
// leading space after "Output:", which Metaspace tokenizers add themselves).
//   TextCodec codec = TextCodec::from_tokenizer(Tokenizer::from_folder("SmolLM2-135M"));
#ifndef EVERLORA_DATA_TEXT_CODEC_HPP
#define EVERLORA_DATA_TEXT_CODEC_HPP

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "everlora/data/byte_tokenizer.hpp"
#include "everlora/data/tokenizer.hpp"

namespace everlora {

class TextCodec {
 public:
  /// everlora's byte tokenizer (data/byte_tokenizer.hpp).
  static TextCodec bytes() { return TextCodec(nullptr); }
  /// A model's tokenizer. Throws Error(config) when it has no EOS token (an answer must end).
  static TextCodec from_tokenizer(Tokenizer tokenizer) {
    if (!tokenizer.eos_id())
      throw Error(ErrorKind::config, "TextCodec: the tokenizer has no eos_token (tokenizer_config.json), so answers could not end");
    return TextCodec(std::make_shared<const Tokenizer>(std::move(tokenizer)));
  }

  /// `text`'s ids, without special tokens.
  std::vector<std::int32_t> encode(std::string_view text) const {
    return tokenizer_ ? tokenizer_->encode(text, false) : encode_bytes(text);
  }
  /// ids back into text; special tokens are dropped.
  std::string decode(const std::vector<std::int32_t>& ids) const {
    return tokenizer_ ? tokenizer_->decode(ids, true) : decode_bytes(ids);
  }
  /// The id every sequence starts with, if the model has one.
  std::optional<std::int32_t> bos() const {
    if (!tokenizer_) return ByteVocab::kBos;
    return tokenizer_->adds_bos() ? tokenizer_->bos_id() : std::nullopt;
  }
  /// The id that ends an answer (generation stops there).
  std::int32_t eos() const { return tokenizer_ ? *tokenizer_->eos_id() : ByteVocab::kEos; }
  /// Padding (never a target, never attended to by a real position): the pad token, else EOS.
  std::int32_t pad() const { return tokenizer_ ? tokenizer_->pad_id().value_or(eos()) : ByteVocab::kPad; }
  /// The id between a prompt and its answer, if any.
  std::optional<std::int32_t> separator() const {
    return tokenizer_ ? std::nullopt : std::optional<std::int32_t>(ByteVocab::kSep);
  }
  /// What the answer's text is prefixed with before encoding (" " after "Output:", except where
  /// the tokenizer's Metaspace already marks the start of a text as a word start).
  std::string answer_prefix() const {
    return tokenizer_ && tokenizer_->model_kind() != "metaspace_bpe" ? " " : "";
  }
  /// The one id that `text` encodes to, if it is one token ("\n" is one in every tokenizer here).
  std::optional<std::int32_t> single_token(std::string_view text) const {
    const std::vector<std::int32_t> ids = encode(text);
    return ids.size() == 1 ? std::optional<std::int32_t>(ids[0]) : std::nullopt;
  }
  /// The number of ids the codec can produce (the model's vocabulary must cover them).
  Index vocab_size() const { return tokenizer_ ? tokenizer_->vocab_size() : ByteVocab::kSize; }
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }

 private:
  explicit TextCodec(std::shared_ptr<const Tokenizer> tokenizer) : tokenizer_(std::move(tokenizer)) {}
  std::shared_ptr<const Tokenizer> tokenizer_;
};

}  // namespace everlora

#endif  // EVERLORA_DATA_TEXT_CODEC_HPP
