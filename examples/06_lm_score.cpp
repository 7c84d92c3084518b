// 06_lm_score — how likely a Hugging Face model finds a text: the log-probability of each token
// given the ones before it, as one JSON line that scripts can read; optionally a greedy
// continuation. The model runs in float32; the log-softmax is taken in double.
//   build/examples/06_lm_score --model DIR --text "Hello world" [--tokenizer DIR2] [--generate N]
//   build/examples/06_lm_score --model DIR --ids 1,2,3
// Its interface is pinned (examples/README.md): scripts rely on it.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "everlora/data/tokenizer.hpp"
#include "everlora/io/hf_model.hpp"
#include "everlora/nn/generate.hpp"

using everlora::Error;
using everlora::ErrorKind;
using everlora::Index;

const char* const kDescription = R"(Scores a text under a Hugging Face causal language model (Llama, Mistral, Qwen2, Qwen3, GPT-2;
config.json + safetensors), in float32.

Output (stdout), one JSON object per line:
  line 1: {"ids": [...], "logprobs": [...]}
    ids       the ids scored: --ids as given, or the tokenizer's ids of --text with its special
              tokens (a BOS in front when its post-processor adds one, e.g. Llama 2's <s>)
    logprobs  n-1 numbers for n ids: logprobs[i] = log p(ids[i+1] | ids[0..i]), natural log,
              a log-softmax in double over the model's float32 logits
  line 2, only with --generate N: {"generated_ids": [...], "text": "..."}
    generated_ids  up to N ids continuing ids greedily (argmax, KV cache); stops early at the
                   tokenizer's end-of-sequence id (not included) or when the context is full
    text           the continuation as text: decode(ids + generated_ids) without the prompt's own
                   decoding in front (special tokens kept; invalid UTF-8 becomes U+FFFD); null
                   when there is no tokenizer

The tokenizer (tokenizer.json + tokenizer_config.json) is read from --tokenizer, else from the
model folder; --ids needs one only for the text of --generate.
Errors go to stderr as "06_lm_score: <message>", with exit status 1.)";

/// "1,2,3" → {1, 2, 3}: each a whole number in [0, 2^31).
std::vector<std::int32_t> parse_ids(const std::string& list) {
  std::vector<std::int32_t> ids;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    std::string item = list.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    const bool digits = !item.empty() && item.size() <= 10 && item.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoll(item) > 2147483647)
      throw Error(ErrorKind::value, "--ids: '" + item + "' is not a token id (a whole number from 0 to 2147483647); "
                                    "give comma-separated ids such as 1,2,3");
    ids.push_back(static_cast<std::int32_t>(std::stoll(item)));
    if (comma == list.size()) break;
    start = comma + 1;
  }
  return ids;
}

/// log p(ids[i+1] | ids[0..i]) for i = 0 … n−2: one forward pass, then a stable log-softmax of
/// each row of logits in double, read at the next id.
std::vector<double> score(everlora::CausalLM<float>& model, const std::vector<std::int32_t>& ids) {
  everlora::NoGrad no_graph;
  const everlora::EvalMode<float> eval_mode(model);
  const Index n = static_cast<Index>(ids.size()), vocab = model.vocab_size();
  const everlora::Tensor<float> logits = model.forward(ids, 1, n);  // [1, n, V]
  std::vector<double> logprobs;
  for (Index i = 0; i + 1 < n; ++i) {
    const float* row = logits.data() + i * vocab;
    const double top = *std::max_element(row, row + vocab);
    double sum = 0;
    for (Index v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(row[v]) - top);
    logprobs.push_back(static_cast<double>(row[ids[static_cast<std::size_t>(i + 1)]]) - top - std::log(sum));
  }
  return logprobs;
}

/// The text `generated` adds after `prompt`: decoded together, so that tokenizers which strip or
/// merge at the start (SentencePiece's leading space) give the same text as the whole sequence.
std::string continuation_text(const everlora::Tokenizer& tok, const std::vector<std::int32_t>& prompt,
                              const std::vector<std::int32_t>& generated) {
  std::vector<std::int32_t> all = prompt;
  all.insert(all.end(), generated.begin(), generated.end());
  const std::string whole = tok.decode(all), head = tok.decode(prompt);
  if (whole.compare(0, head.size(), head) == 0) return whole.substr(head.size());
  return tok.decode(generated);
}

/// The tokenizer: --tokenizer, else the model folder's; none when it is not needed and absent.
std::optional<everlora::Tokenizer> find_tokenizer(const std::string& model_dir, const std::string& tokenizer_dir, bool needed) {
  if (!tokenizer_dir.empty()) return everlora::Tokenizer::from_folder(tokenizer_dir);
  std::error_code ec;
  if (needed || std::filesystem::is_regular_file(model_dir + "/tokenizer.json", ec))
    return everlora::Tokenizer::from_folder(model_dir);
  return std::nullopt;
}

int main(int argc, char** argv) {
  std::string model_dir, tokenizer_dir, text, id_list;
  Index generate_count = 0;
  CLI::App app{kDescription, "06_lm_score"};
  app.add_option("--model", model_dir, "model folder: config.json and model.safetensors (or shards)")->required();
  CLI::Option* text_option = app.add_option("--text", text, "the text to score (encoded with special tokens)");
  CLI::Option* ids_option = app.add_option("--ids", id_list, "comma-separated token ids to score instead of --text");
  text_option->excludes(ids_option);
  app.add_option("--tokenizer", tokenizer_dir, "folder of tokenizer.json (default: the model folder)");
  CLI::Option* generate_option =
      app.add_option("--generate", generate_count, "also continue greedily for up to N tokens (second line)")
          ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "06_lm_score: %s (see --help)\n", e.what());
    return 1;
  }

  try {
    const bool from_text = text_option->count() > 0, generating = generate_option->count() > 0;
    if (!from_text && ids_option->count() == 0) throw Error(ErrorKind::value, "give --text TEXT or --ids 1,2,3");
    if (from_text && text.empty()) throw Error(ErrorKind::value, "--text is empty: there is nothing to score");
    const std::optional<everlora::Tokenizer> tokenizer = find_tokenizer(model_dir, tokenizer_dir, from_text);
    const std::vector<std::int32_t> ids = from_text ? tokenizer->encode(text, true) : parse_ids(id_list);
    if (ids.empty()) throw Error(ErrorKind::value, "--text gives no tokens and the tokenizer adds none: nothing to score");

    const auto model = everlora::load_hf_model<float>(model_dir);
    for (const std::int32_t id : ids)
      if (id >= model->vocab_size())
        throw Error(ErrorKind::value, std::string(from_text ? "the tokenizer gives" : "--ids holds") + " the id " +
                                          std::to_string(id) + ", outside the vocabulary of " + model_dir +
                                          "/config.json (vocab_size " + std::to_string(model->vocab_size()) + ")");

    const nlohmann::json scored = {{"ids", ids}, {"logprobs", score(*model, ids)}};
    std::cout << scored.dump() << '\n';
    if (generating) {
      everlora::GenerateOptions options;
      options.max_new_tokens = generate_count;
      options.greedy = true;
      if (tokenizer && tokenizer->eos_id()) options.stop_id = *tokenizer->eos_id();
      everlora::Rng unused(0);  // greedy decoding draws nothing
      const std::vector<std::int32_t> generated = everlora::generate(*model, ids, options, unused);
      nlohmann::json line = {{"generated_ids", generated}, {"text", nullptr}};
      if (tokenizer) line["text"] = continuation_text(*tokenizer, ids, generated);
      std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
    std::cout.flush();
    if (!std::cout) throw Error(ErrorKind::io, "cannot write to stdout");
  } catch (const std::exception& e) {  // everlora::Error names the file, key or id
    std::fprintf(stderr, "06_lm_score: %s\n", e.what());
    return 1;
  }
  return 0;
}
