// everlora — Tokenizer: a Hugging Face tokenizer.json (+ the tokenizer_config.json beside it),
// encoding text to the same ids as the Rust `tokenizers` library and decoding them back.
// Byte-level BPE (GPT-2, Llama 3, Qwen2/Qwen3, SmolLM, GPT-4o) and Metaspace / byte-fallback BPE
// (Llama 2, TinyLlama, Mistral); added and special tokens; TemplateProcessing. @sa docs/tokenizers.md
//   auto tok = everlora::Tokenizer::from_folder("Meta-Llama-3-8B");
//   std::vector<std::int32_t> ids = tok.encode("Hello world");   // + the template's special tokens
//   std::string text = tok.decode(ids, /*skip_special_tokens=*/true);
// A Tokenizer is immutable once loaded: copies share it, and concurrent encode() calls are safe.
#ifndef EVERLORA_DATA_TOKENIZER_HPP
#define EVERLORA_DATA_TOKENIZER_HPP

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "everlora/config.hpp"
#include "everlora/core/error.hpp"
#include "everlora/data/detail/tokenizer_added.hpp"
#include "everlora/data/detail/tokenizer_bpe.hpp"
#include "everlora/data/detail/tokenizer_decoder.hpp"
#include "everlora/data/detail/tokenizer_json.hpp"
#include "everlora/data/detail/tokenizer_normalizer.hpp"
#include "everlora/data/detail/tokenizer_pretokenizer.hpp"

namespace everlora {

class Tokenizer {
 public:
  /// Loads tokenizer.json at `tokenizer_json_path`, and tokenizer_config.json from the same folder
  /// when there is one. Throws Error(io) naming the path if it cannot be read, Error(format) for
  /// invalid JSON, Error(config) naming the file and key for anything unsupported or inconsistent.
  static Tokenizer from_file(const std::string& tokenizer_json_path) {
    const std::filesystem::path path(tokenizer_json_path);
    const std::filesystem::path config = path.parent_path() / "tokenizer_config.json";
    std::error_code ec;
    const bool has_config = std::filesystem::is_regular_file(config, ec);
    return from_json(read_file(tokenizer_json_path), has_config ? read_file(config.string()) : std::string(),
                     tokenizer_json_path, has_config ? config.string() : std::string());
  }

  /// model_dir/tokenizer.json (+ model_dir/tokenizer_config.json).
  static Tokenizer from_folder(const std::string& model_dir) {
    return from_file((std::filesystem::path(model_dir) / "tokenizer.json").string());
  }

  /// From the text of a tokenizer.json (and of a tokenizer_config.json, or empty); `source` names
  /// it in error messages.
  static Tokenizer from_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json = {},
                             const std::string& source = "<memory>") {
    return from_json(tokenizer_json, tokenizer_config_json, source,
                     tokenizer_config_json.empty() ? std::string() : source + " (tokenizer_config.json)");
  }

  /// The ids of `text` (valid UTF-8, else Error(value)); with add_special_tokens, the
  /// post-processor's special tokens too (e.g. Llama 2's `<s>` in front).
  std::vector<std::int32_t> encode(std::string_view text, bool add_special_tokens = true) const {
    const Impl& m = *impl_;
    if (const std::size_t bad = detail::tok::invalid_utf8_at(text); bad != std::string_view::npos)
      throw Error(ErrorKind::value, "Tokenizer::encode (" + m.source + "): the text is not valid UTF-8 at byte " +
                                        std::to_string(bad));
    std::vector<std::int32_t> ids;
    ids.reserve(text.size() / 3 + 4);
    detail::tok::Arena arena;
    detail::tok::BpeScratch scratch;
    std::vector<detail::tok::Section> sections, normalized_sections;
    std::vector<detail::tok::Piece> pieces;
    m.added_raw.split(text, 0, sections);
    for (const auto& section : sections) {
      if (section.added_id >= 0) {
        ids.push_back(section.added_id);
        continue;
      }
      std::string_view plain = section.text;
      if (!m.normalizer.empty()) {
        arena.emplace_back(plain);
        m.normalizer.apply(arena.back());
        plain = arena.back();
      }
      normalized_sections.clear();
      m.added_normalized.split(plain, section.offset, normalized_sections);
      for (const auto& sub : normalized_sections) {
        if (sub.added_id >= 0) {
          ids.push_back(sub.added_id);
          continue;
        }
        pieces.clear();
        m.pre_tokenizer.apply({sub.text, section.offset == 0 && sub.offset == 0}, arena, pieces);
        for (const auto& piece : pieces) m.model.encode(piece.text, ids, scratch);
      }
    }
    if (add_special_tokens) ids = m.post_processor.apply(std::move(ids));
    return ids;
  }

  /// The text of `ids` through the decoder; skip_special_tokens leaves out the special added
  /// tokens. An id that is no token (a model's embedding padded past the tokenizer's vocabulary,
  /// as Qwen's is) is left out, as the Rust tokenizers library leaves it out.
  std::string decode(const std::vector<std::int32_t>& ids, bool skip_special_tokens = false) const {
    const Impl& m = *impl_;
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (std::int32_t id : ids) {
      const auto at = static_cast<std::size_t>(id);
      if (id < 0 || at >= m.id_to_token.size() || !m.has_id[at]) continue;
      if (skip_special_tokens && m.is_special[at]) continue;
      tokens.push_back(m.id_to_token[at]);
    }
    return m.decoder.decode(std::move(tokens));
  }

  /// Largest id + 1, over the model's vocab and the added tokens.
  Index vocab_size() const { return static_cast<Index>(impl_->id_to_token.size()); }

  /// The ids of tokenizer_config.json's bos/eos/pad/unk tokens (unk: else the model's unk_token).
  std::optional<std::int32_t> bos_id() const { return impl_->bos; }
  std::optional<std::int32_t> eos_id() const { return impl_->eos; }
  std::optional<std::int32_t> pad_id() const { return impl_->pad; }
  std::optional<std::int32_t> unk_id() const { return impl_->unk; }

  /// tokenizer_config.json's add_bos_token / add_eos_token, when it sets them. encode() follows
  /// the post-processor of tokenizer.json, as the Rust library does; adds_bos() says what it does.
  std::optional<bool> config_add_bos_token() const { return impl_->config_add_bos; }
  std::optional<bool> config_add_eos_token() const { return impl_->config_add_eos; }

  /// The id of a token as written in tokenizer.json (vocab or added tokens).
  std::optional<std::int32_t> token_to_id(std::string_view token) const {
    auto it = impl_->token_to_id.find(std::string(token));
    if (it == impl_->token_to_id.end()) return std::nullopt;
    return it->second;
  }

  /// The token of an id as written in tokenizer.json; Error(index) when no token has it.
  const std::string& id_to_token(std::int32_t id) const {
    const Impl& m = *impl_;
    if (id < 0 || static_cast<std::size_t>(id) >= m.id_to_token.size() || !m.has_id[static_cast<std::size_t>(id)])
      throw Error(ErrorKind::index, "Tokenizer (" + m.source + "): id " + std::to_string(id) +
                                        " is not a token (vocab size " + std::to_string(m.id_to_token.size()) + ")");
    return m.id_to_token[static_cast<std::size_t>(id)];
  }

  /// Whether encode(text, true) starts with bos_id().
  bool adds_bos() const { return impl_->adds_bos; }

  /// "byte_level_bpe" (ByteLevel pre-tokenizer), "metaspace_bpe" (▁ for spaces) or "bpe".
  const std::string& model_kind() const { return impl_->kind; }

 private:
  struct Impl {
    std::string source, kind;
    detail::tok::Normalizer normalizer;
    detail::tok::PreTokenizer pre_tokenizer;
    detail::tok::BpeModel model;
    detail::tok::AddedMatcher added_raw, added_normalized;
    detail::tok::Decoder decoder;
    detail::tok::PostProcessor post_processor;
    std::vector<std::string> id_to_token;
    std::vector<bool> has_id, is_special;
    std::unordered_map<std::string, std::int32_t> token_to_id;
    std::optional<std::int32_t> bos, eos, pad, unk;
    std::optional<bool> config_add_bos, config_add_eos;
    bool adds_bos = false;
  };

  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

  static std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorKind::io, "Tokenizer: cannot open " + path);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) throw Error(ErrorKind::io, "Tokenizer: cannot read " + path);
    return buffer.str();
  }

  static detail::tok::Json parse(std::string_view text, const std::string& source) {
    try {
      return detail::tok::Json::parse(text.begin(), text.end());
    } catch (const detail::tok::Json::exception& e) {
      throw Error(ErrorKind::format, source + ": invalid JSON: " + e.what());
    }
  }

  static Tokenizer from_json(std::string_view json_text, std::string_view config_text, const std::string& source,
                             const std::string& config_source) {
    using namespace detail::tok;
    const Json root = parse(json_text, source);
    const Where at{source, ""};
    if (!root.is_object()) throw Error(ErrorKind::format, source + ": not a JSON object but " + show(root));
    auto m = std::make_shared<Impl>();
    m->source = source;

    const Json null_json;
    const Json* normalizer = find(root, "normalizer");
    const Json* pre = find(root, "pre_tokenizer");
    m->normalizer = Normalizer::from_json(normalizer ? *normalizer : null_json, at / "normalizer");
    m->pre_tokenizer = PreTokenizer::from_json(pre ? *pre : null_json, at / "pre_tokenizer");

    const Json& model = require(root, "model", at);
    const Where mw = at / "model";
    const std::string type = find(model, "type") ? string_at(model, "type", mw) : std::string(find(model, "merges") ? "BPE" : "");
    if (type != "BPE")
      (mw / "type").fail("is \"" + type + "\", an unsupported model type: only \"BPE\" is supported "
                         "(not WordPiece, WordLevel or Unigram)");
    m->model = BpeModel::from_json(model, m->pre_tokenizer.byte_level(), mw);

    const std::vector<AddedToken> added = parse_added_tokens(root, at);
    build_id_table(*m, added, at);
    std::vector<AddedToken> raw, normalized;
    for (const auto& a : added) (a.normalized && !a.special ? normalized : raw).push_back(a);
    m->added_raw = AddedMatcher(raw);
    m->added_normalized = AddedMatcher(normalized);

    const Json* decoder = find(root, "decoder");
    const Json* post = find(root, "post_processor");
    m->decoder = Decoder::from_json(decoder ? *decoder : null_json, at / "decoder");
    m->post_processor = PostProcessor::from_json(post ? *post : null_json, at / "post_processor");
    for (std::int32_t id : m->post_processor.apply({}))
      if (id < 0 || static_cast<std::size_t>(id) >= m->id_to_token.size() || !m->has_id[static_cast<std::size_t>(id)])
        (at / "post_processor").fail("adds the id " + std::to_string(id) + ", which is no token");

    if (m->pre_tokenizer.byte_level()) m->kind = "byte_level_bpe";
    else if ((normalizer && normalizer->dump().find("\xE2\x96\x81") != std::string::npos) ||
             (pre && pre->dump().find("Metaspace") != std::string::npos))
      m->kind = "metaspace_bpe";
    else m->kind = "bpe";

    m->unk = m->model.unk_id();
    if (!config_text.empty()) read_config(*m, parse(config_text, config_source), config_source);
    const std::vector<std::int32_t> specials = m->post_processor.apply({});
    m->adds_bos = m->bos && !specials.empty() && specials.front() == *m->bos;
    return Tokenizer(std::move(m));
  }

  /// id → token over the vocab and the added tokens; an added token may reuse its vocab id with
  /// the same text, but two different texts on one id are an error.
  static void build_id_table(Impl& m, const std::vector<detail::tok::AddedToken>& added, const detail::tok::Where& at) {
    std::size_t size = 0;
    for (const auto& [token, id] : m.model.vocab()) size = std::max(size, static_cast<std::size_t>(id) + 1);
    for (const auto& a : added) size = std::max(size, static_cast<std::size_t>(a.id) + 1);
    m.id_to_token.assign(size, std::string());
    m.has_id.assign(size, false);
    m.is_special.assign(size, false);
    m.token_to_id = m.model.vocab();
    for (const auto& [token, id] : m.model.vocab()) {
      m.id_to_token[static_cast<std::size_t>(id)] = token;
      m.has_id[static_cast<std::size_t>(id)] = true;
    }
    for (std::size_t i = 0; i < added.size(); ++i) {
      const auto& a = added[i];
      const auto id = static_cast<std::size_t>(a.id);
      if (m.has_id[id] && m.id_to_token[id] != a.content)
        (at / "added_tokens")[i].fail("gives id " + std::to_string(a.id) + " to " + detail::tok::Json(a.content).dump() +
                                      ", but it is already the id of " + detail::tok::Json(m.id_to_token[id]).dump());
      m.id_to_token[id] = a.content;
      m.has_id[id] = true;
      m.is_special[id] = a.special;
      m.token_to_id[a.content] = a.id;
    }
  }

  static void read_config(Impl& m, const detail::tok::Json& config, const std::string& source) {
    using namespace detail::tok;
    const Where at{source, ""};
    if (!config.is_object()) throw Error(ErrorKind::format, source + ": not a JSON object but " + show(config));
    auto token_id = [&](const char* key) -> std::optional<std::int32_t> {
      const Json* v = find(config, key);
      if (v == nullptr) return std::nullopt;
      std::string text;
      if (v->is_string()) text = v->get<std::string>();
      else if (v->is_object() && find(*v, "content") && (*v)["content"].is_string()) text = (*v)["content"].get<std::string>();
      else (at / key).fail("is " + show(*v) + ", neither a string nor an object with a \"content\" string");
      auto it = m.token_to_id.find(text);
      if (it == m.token_to_id.end())
        (at / key).fail("is " + Json(text).dump() + ", which is not a token of " + m.source);
      return it->second;
    };
    m.bos = token_id("bos_token");
    m.eos = token_id("eos_token");
    m.pad = token_id("pad_token");
    if (auto unk = token_id("unk_token")) m.unk = unk;
    if (find(config, "add_bos_token")) m.config_add_bos = bool_or(config, "add_bos_token", false, at);
    if (find(config, "add_eos_token")) m.config_add_eos = bool_or(config, "add_eos_token", false, at);
  }

  std::shared_ptr<const Impl> impl_;
};

}  // namespace everlora

#endif  // EVERLORA_DATA_TOKENIZER_HPP
