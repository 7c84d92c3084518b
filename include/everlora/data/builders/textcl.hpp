// everlora — builds textcl, the bundled text-classification stream (BENCHMARKS.md, "Bundled quality
// benchmarks"), from Debian's packages fortunes, dict-jargon, dict-foldoc and dict-devil, and the
// text its byte-level GPT base is pretrained on. Deterministic for a seed; no download.
//
// The five tasks, in training order (labels; each label gets train/dev/test_per_label examples,
// 150/20/30 by default, so 450–600 train, 60–80 dev and 90–120 test examples per task):
//   dictionary  which dictionary a definition is from   jargon, foldoc, devil
//   topic       which fortunes file a quote is from     computers, science, politics, law
//   pos         part of speech of the defined word      noun, verb, adjective    (Jargon + Devil)
//   source      which fortunes file a quote is from     startrek, zippy, perl, linux
//   field       subject tag of a FOLDOC entry           language, networking, hardware, company
// Inputs are cleaned text (one line, whitespace collapsed, {link} braces removed) without what
// would give the answer away: the headword line, the part-of-speech marker, FOLDOC's <tag> and
// date; cut at a word boundary to max_input_bytes. pos shows the word: "headword: definition". The scarcest labels bound the sizes: law has
// 203 usable quotes, verb and adjective about 230 definitions, company about 250.
// @sa docs/concepts/benchmarks_data.md
#ifndef EVERLORA_DATA_BUILDERS_TEXTCL_HPP
#define EVERLORA_DATA_BUILDERS_TEXTCL_HPP

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "everlora/config.hpp"
#include "everlora/core/error.hpp"
#include "everlora/core/random.hpp"
#include "everlora/data/builders/common.hpp"
#include "everlora/data/dictd.hpp"
#include "everlora/data/fortunes.hpp"
#include "everlora/data/stream.hpp"
#include "everlora/data/task.hpp"
#include "everlora/io/atomic_file.hpp"
#include "everlora/version.hpp"

namespace everlora {

/// How build_textcl draws the stream. The defaults are the pinned benchmark.
struct TextclOptions {
  std::uint64_t seed = 1;       ///< the shuffles (which texts, which split, which order)
  Index train_per_label = 150;  ///< examples of each label in train.jsonl (≥ 1)
  Index dev_per_label = 20;     ///< … in dev.jsonl (≥ 0)
  Index test_per_label = 30;    ///< … in test.jsonl (≥ 1)
  Index max_input_bytes = 160;  ///< longer texts are cut at a word boundary
  std::string fortunes_dir = kFortunesDir;
  std::string dictd_dir = kDictdDir;
  Index min_input_bytes = 24;                ///< shorter texts are not used as inputs
  Index pretrain_max_bytes = Index(3) << 20;  ///< cap of textcl_pretraining_corpus (3 MiB)
};

namespace detail {
namespace textcl {

enum class Origin { fortunes, jargon, foldoc, devil };

/// One text of the sources: a fortune or a dictionary entry.
struct Doc {
  Origin origin = Origin::fortunes;
  std::string headword;           ///< dictionaries: as the index spells it (lower case)
  std::string category;           ///< fortunes: the file ("computers", …)
  std::string pos;                ///< "noun", "verb", "adjective" or "" (Jargon and Devil)
  std::vector<std::string> tags;  ///< FOLDOC's subject tags ("programming", …)
  bool ambiguous = false;  ///< a fortune in several files; a FOLDOC entry taken from the Jargon File
  std::string body;        ///< the input text, untruncated; empty: never an input
  std::string full;        ///< the corpus text (headword and markers included); empty: never used
};

/// The part of speech an abbreviation names, or "".
inline std::string pos_name(std::string_view abbrev) {
  if (abbrev == "n.") return "noun";
  if (abbrev == "v." || abbrev == "vt." || abbrev == "vi." || abbrev == "v.t." || abbrev == "v.i.")
    return "verb";
  if (abbrev == "adj.") return "adjective";
  return "";
}

/// `s` without leading "[…]" notes (balanced brackets) and sense numbers "1. ".
inline std::string strip_lead(std::string s) {
  for (std::size_t before = s.size() + 1; s.size() < before;) {
    before = s.size();
    if (!s.empty() && s[0] == '[') {
      int depth = 0;
      for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '[') ++depth;
        if (s[i] == ']' && --depth == 0) {
          s.erase(0, i + 1);
          break;
        }
      }
    }
    std::size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
    if (digits > 0 && s.compare(digits, 2, ". ") == 0) s.erase(0, digits + 2);
    while (!s.empty() && s[0] == ' ') s.erase(0, 1);
  }
  return s;
}

/// A body that only points elsewhere ("See {x}.", "Syn. y") teaches nothing: dropped as an input.
inline bool is_cross_reference(const std::string& body) {
  return body.rfind("See ", 0) == 0 || body.rfind("Syn", 0) == 0 || body.rfind("Same as ", 0) == 0;
}

/// clean_text(head + tail) for a text split at whitespace, reusing the cleaned tail.
inline std::string join_clean(std::string_view head, const std::string& clean_tail) {
  std::string out = corpus::clean_text(head, true);
  if (!out.empty() && !clean_tail.empty()) out += ' ';
  return out += clean_tail;
}

/// "ABASEMENT, n.  A decent and customary…" → pos and body after the marker.
inline Doc parse_devil(const std::string& headword, const std::string& raw) {
  Doc doc;
  doc.origin = Origin::devil;
  doc.headword = headword;
  const auto corpus_only = [&] {  // "CONFIDANT, CONFIDANTE, n.", "adj. and n." and the like
    doc.full = corpus::clean_text(raw, true);
    return doc;
  };
  const std::size_t comma = raw.find(',');
  if (comma == std::string::npos || comma > raw.find('\n')) return corpus_only();
  std::size_t p = comma + 1;
  while (p < raw.size() && raw[p] == ' ') ++p;
  std::size_t q = p;
  while (q < raw.size() && ((raw[q] >= 'a' && raw[q] <= 'z') || raw[q] == '.')) ++q;
  if (q == p || raw[q - 1] != '.' || q == raw.size() || (raw[q] != ' ' && raw[q] != '\n'))
    return corpus_only();
  std::string body = corpus::clean_text(std::string_view(raw).substr(q), true);
  if (body.rfind("and ", 0) == 0 || body.rfind("or ", 0) == 0) return corpus_only();
  doc.pos = pos_name(std::string_view(raw).substr(p, q - p));
  doc.full = join_clean(std::string_view(raw).substr(0, q), body);
  doc.body = std::move(body);
  return doc;
}

/// "headword\n /pron/, n.\n\n    [etymology] Text…" → pos and body after the note.
inline Doc parse_jargon(const std::string& headword, const std::string& raw) {
  Doc doc;
  doc.origin = Origin::jargon;
  doc.headword = headword;
  const std::size_t nl1 = raw.find('\n');
  if (nl1 == std::string::npos) {
    doc.full = corpus::clean_text(raw, true);
    return doc;
  }
  std::size_t body_from = nl1 + 1;
  if (raw.compare(body_from, 4, "    ") != 0) {  // the pronunciation / part-of-speech line
    std::size_t nl2 = raw.find('\n', body_from);
    if (nl2 == std::string::npos) nl2 = raw.size();
    std::string marker = corpus::clean_text(std::string_view(raw).substr(body_from, nl2 - body_from));
    while (!marker.empty() && marker[0] == '/') {  // "/pron/, /pron2/, n."
      const std::size_t close = marker.find('/', 1);
      marker.erase(0, close == std::string::npos ? marker.size() : close + 1);
      while (!marker.empty() && (marker[0] == ',' || marker[0] == ' ')) marker.erase(0, 1);
    }
    doc.pos = pos_name(marker);
    body_from = nl2;
  }
  const std::string tail = corpus::clean_text(std::string_view(raw).substr(body_from), true);
  doc.full = join_clean(std::string_view(raw).substr(0, body_from), tail);
  doc.body = strip_lead(tail);
  if (is_cross_reference(doc.body)) doc.body.clear();
  return doc;
}

/// `s` without a trailing FOLDOC date stamp "(YYYY-MM-DD)".
inline std::string drop_date(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  const char* shape = "(dddd-dd-dd)";
  if (s.size() < 12) return s;
  for (std::size_t i = 0; i < 12; ++i) {
    const char c = s[s.size() - 12 + i];
    if (shape[i] == 'd' ? !(c >= '0' && c <= '9') : c != shape[i]) return s;
  }
  s.resize(s.size() - 12);
  return s;
}

/// "Headword\n\n   <tag, tag> Text… (2003-07-05)" → tags and body.
inline Doc parse_foldoc(const std::string& headword, const std::string& raw) {
  Doc doc;
  doc.origin = Origin::foldoc;
  doc.headword = headword;
  const std::string text = drop_date(raw);
  const auto corpus_only = [&] {
    doc.full = corpus::clean_text(text, true);
    return doc;
  };
  doc.ambiguous = text.find("Jargon File") != std::string::npos;
  std::size_t p = text.find("\n\n");
  if (p == std::string::npos) return corpus_only();
  while (p < text.size() && (text[p] == '\n' || text[p] == ' ' || text[p] == '\t')) ++p;
  if (p < text.size() && text[p] == '<') {
    const std::size_t close = text.find('>', p);
    if (close == std::string::npos) return corpus_only();
    const std::string list = corpus::clean_text(std::string_view(text).substr(p + 1, close - p - 1));
    for (std::size_t start = 0; start <= list.size();) {
      std::size_t comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      const std::string tag = corpus::clean_text(std::string_view(list).substr(start, comma - start));
      if (!tag.empty()) doc.tags.push_back(tag);
      start = comma + 1;
    }
    p = close + 1;
  }
  for (const auto& tag : doc.tags)
    if (tag == "jargon") doc.ambiguous = true;
  doc.body = corpus::clean_text(std::string_view(text).substr(p), true);
  doc.full = join_clean(std::string_view(text).substr(0, p), doc.body);
  if (is_cross_reference(doc.body)) doc.body.clear();
  return doc;
}

/// Every fortune and dictionary entry, parsed, in a fixed order (fortunes by file, then Jargon,
/// FOLDOC, Devil in index order). Aliases (dictd entries sharing a text) appear once.
inline std::vector<Doc> load_sources(const TextclOptions& o) {
  std::vector<Doc> docs;
  std::unordered_map<std::string, std::vector<std::size_t>> by_text;
  for (const Fortune& f : read_fortunes(o.fortunes_dir)) {
    if (f.category == "ascii-art") continue;  // pictures, not text
    Doc doc;
    doc.category = f.category;
    doc.full = corpus::clean_text(f.text);
    doc.body = doc.full;
    if (doc.full.empty()) continue;
    by_text[doc.full].push_back(docs.size());
    docs.push_back(std::move(doc));
  }
  for (const auto& [text, where] : by_text) {
    if (where.size() < 2) continue;
    bool several_files = false;
    for (const std::size_t k : where) several_files |= docs[k].category != docs[where[0]].category;
    for (std::size_t i = 0; i < where.size(); ++i) {
      docs[where[i]].ambiguous = several_files;
      if (i > 0) {  // one copy is enough
        docs[where[i]].full.clear();
        docs[where[i]].body.clear();
      }
    }
  }
  const std::pair<const char*, Doc (*)(const std::string&, const std::string&)> dictionaries[3] = {
      {"jargon", parse_jargon}, {"foldoc", parse_foldoc}, {"devil", parse_devil}};
  for (const auto& [name, parse] : dictionaries) {
    std::unordered_set<std::string> seen;
    for (const DictEntry& e : read_dictionary(name, o.dictd_dir))
      if (seen.insert(e.definition).second) docs.push_back(parse(e.headword, e.definition));
  }
  return docs;
}

/// One task: its name, instruction, labels and which texts each label may use.
struct TaskRule {
  const char* name;
  const char* instruction;
  std::vector<std::string> labels;
  bool (*match)(const Doc&, const std::string& label);
  bool headword = false;  ///< the input is "headword: text"
};

inline bool is_fortune(const Doc& d, const std::string& category) {
  return d.origin == Origin::fortunes && !d.ambiguous && d.category == category;
}

/// The tasks in training order. Labels are pairwise disjoint across tasks.
inline std::vector<TaskRule> task_rules() {
  return {
      {"dictionary", "Which dictionary is this definition from?", {"jargon", "foldoc", "devil"},
       [](const Doc& d, const std::string& label) {
         const Origin want = label == "jargon" ? Origin::jargon
                             : label == "foldoc" ? Origin::foldoc
                                                 : Origin::devil;
         return d.origin == want && !d.ambiguous;
       }},
      {"topic", "What is this quote about?", {"computers", "science", "politics", "law"},
       [](const Doc& d, const std::string& label) { return is_fortune(d, label); }},
      {"pos", "What part of speech is the word defined here?", {"noun", "verb", "adjective"},
       [](const Doc& d, const std::string& label) {
         return (d.origin == Origin::jargon || d.origin == Origin::devil) && d.pos == label;
       },
       true},
      {"source", "Which fortune collection is this quote from?",
       {"startrek", "zippy", "perl", "linux"},
       [](const Doc& d, const std::string& label) { return is_fortune(d, label); }},
      {"field", "What is this computing dictionary entry about?",
       {"language", "networking", "hardware", "company"},
       [](const Doc& d, const std::string& label) {
         return d.origin == Origin::foldoc && d.tags.size() == 1 && d.tags[0] == label;
       }},
  };
}

/// The order tasks draw their texts in: scarce labels first (a text serves one task only).
inline constexpr int kDrawOrder[5] = {2, 4, 0, 1, 3};  // pos, field, dictionary, topic, source

inline void check_options(const TextclOptions& o, const char* who) {
  using corpus::require_option;
  require_option(o.train_per_label >= 1, who, "train_per_label must be at least 1, got " +
                                                  std::to_string(o.train_per_label));
  require_option(o.dev_per_label >= 0, who,
                 "dev_per_label must not be negative, got " + std::to_string(o.dev_per_label));
  require_option(o.test_per_label >= 1, who, "test_per_label must be at least 1, got " +
                                                 std::to_string(o.test_per_label));
  require_option(o.min_input_bytes >= 1 && o.max_input_bytes >= o.min_input_bytes, who,
                 "need 1 <= min_input_bytes <= max_input_bytes, got " +
                     std::to_string(o.min_input_bytes) + " and " +
                     std::to_string(o.max_input_bytes));
  require_option(o.pretrain_max_bytes >= 0, who, "pretrain_max_bytes must not be negative");
}

/// The input a text gives under these options, as "text" or "headword: text" ("" if none).
inline std::string input_of(const Doc& d, const TextclOptions& o, bool with_headword) {
  if (d.body.empty() || (with_headword && d.headword.empty())) return "";
  if (static_cast<Index>(d.body.size()) < o.min_input_bytes) return "";
  const auto head = static_cast<std::size_t>(o.max_input_bytes) + 1;  // all truncate_text looks at
  std::string in = corpus::truncate_text(
      with_headword ? d.headword + ": " + d.body.substr(0, head) : d.body.substr(0, head),
      o.max_input_bytes);
  return static_cast<Index>(in.size()) >= o.min_input_bytes ? in : std::string();
}

inline Stream build(const std::vector<Doc>& docs, const TextclOptions& o) {
  const char* who = "build_textcl";
  check_options(o, who);
  const auto rules = task_rules();
  Stream stream;
  stream.name = "textcl";
  stream.tasks.resize(rules.size());
  std::vector<char> used(docs.size(), 0);
  std::unordered_set<std::string> inputs;  // every input once in the whole stream
  const auto need = static_cast<std::size_t>(o.train_per_label + o.dev_per_label + o.test_per_label);
  for (const int t : kDrawOrder) {
    const TaskRule& rule = rules[static_cast<std::size_t>(t)];
    Task& task = stream.tasks[static_cast<std::size_t>(t)];
    task.spec.name = rule.name;
    task.spec.labels = rule.labels;
    Rng rng = corpus::part_rng(o.seed, static_cast<std::uint64_t>(t));
    for (const std::string& label : rule.labels) {
      std::vector<std::size_t> pool;
      for (std::size_t k = 0; k < docs.size(); ++k)
        if (!used[k] && !docs[k].body.empty() && rule.match(docs[k], label)) pool.push_back(k);
      corpus::shuffle(pool, rng);
      std::vector<std::string> picked;
      for (std::size_t i = 0; i < pool.size() && picked.size() < need; ++i) {
        std::string in = input_of(docs[pool[i]], o, rule.headword);
        if (in.empty() || !inputs.insert(in).second) continue;
        used[pool[i]] = 1;
        picked.push_back(std::move(in));
      }
      if (picked.size() < need)
        throw Error(ErrorKind::config,
                    std::string(who) + ": task '" + rule.name + "', label '" + label + "': only " +
                        std::to_string(picked.size()) + " usable texts in " + o.fortunes_dir +
                        " and " + o.dictd_dir + ", " + std::to_string(need) +
                        " needed (train_per_label + dev_per_label + test_per_label)");
      for (std::size_t i = 0; i < need; ++i) {
        auto& split = i < static_cast<std::size_t>(o.train_per_label) ? task.train
                      : i < static_cast<std::size_t>(o.train_per_label + o.dev_per_label)
                          ? task.dev
                          : task.test;
        split.push_back({rule.instruction, std::move(picked[i]), label});
      }
    }
    corpus::shuffle(task.train, rng);
    corpus::shuffle(task.dev, rng);
    corpus::shuffle(task.test, rng);
  }
  return stream;
}

/// The longest piece of one text in the pretraining corpus.
inline constexpr std::size_t kCorpusPieceBytes = 2048;

inline std::string corpus_text(const std::vector<Doc>& docs, const Stream& textcl,
                               const TextclOptions& o) {
  check_options(o, "textcl_pretraining_corpus");
  std::unordered_set<std::string> held_out;  // every dev and test input of every task
  for (const Task& task : textcl.tasks) {
    for (const Example& ex : task.dev) held_out.insert(ex.input);
    for (const Example& ex : task.test) held_out.insert(ex.input);
  }
  // By origin, shuffled; a text whose input is held out is left out whole.
  std::vector<std::size_t> groups[4];
  for (std::size_t k = 0; k < docs.size(); ++k) {
    if (docs[k].full.empty()) continue;
    const std::string key = input_of(docs[k], o, false), key_hw = input_of(docs[k], o, true);
    if ((!key.empty() && held_out.count(key)) || (!key_hw.empty() && held_out.count(key_hw)))
      continue;
    groups[static_cast<int>(docs[k].origin)].push_back(k);
  }
  for (int g = 0; g < 4; ++g) {
    Rng rng = corpus::part_rng(o.seed, 100 + static_cast<std::uint64_t>(g));
    corpus::shuffle(groups[g], rng);
  }
  // Interleave the four origins, equal bytes each until one runs out, up to the cap. A piece that
  // holds a held-out input anywhere (a quote inside a longer one, a shared definition) is dropped;
  // so is one holding the text after "headword: " of a held-out input.
  std::vector<std::string> patterns(held_out.begin(), held_out.end());
  for (const std::string& in : held_out) {
    const std::size_t colon = in.find(": ");
    if (colon != std::string::npos &&
        static_cast<Index>(in.size() - colon - 2) >= o.min_input_bytes)
      patterns.push_back(in.substr(colon + 2));
  }
  std::sort(patterns.begin(), patterns.end());  // a fixed order: the same result on every run
  const corpus::SubstringIndex leak(std::move(patterns));
  const auto cap = static_cast<std::size_t>(o.pretrain_max_bytes);
  std::string out;
  std::size_t next[4] = {0, 0, 0, 0}, bytes[4] = {0, 0, 0, 0};
  bool open[4] = {true, true, true, true};
  for (;;) {
    int g = -1;
    for (int k = 0; k < 4; ++k)
      if (open[k] && (g < 0 || bytes[k] < bytes[g])) g = k;
    if (g < 0) break;
    if (next[g] == groups[g].size()) {
      open[g] = false;
      continue;
    }
    const std::string piece =
        corpus::truncate_text(docs[groups[g][next[g]++]].full, kCorpusPieceBytes);
    if (out.size() + piece.size() + 1 > cap) {
      open[g] = false;
      continue;
    }
    if (piece.empty() || leak.found_in(piece)) continue;
    out += piece;
    out += '\n';
    bytes[g] += piece.size() + 1;
  }
  return out;
}

}  // namespace textcl
}  // namespace detail

/// The textcl stream: five classification tasks cast as generation (Example{instruction, input,
/// output = label}), balanced labels, every input once in the whole stream (so no text is in two
/// splits), each split shuffled. Same options → identical stream.
/// Throws Error(io) naming the Debian package when fortunes or a dictionary is missing,
/// Error(config) for invalid options or when a label has fewer usable texts than
/// train_per_label + dev_per_label + test_per_label.
inline Stream build_textcl(const TextclOptions& options = {}) {
  detail::textcl::check_options(options, "build_textcl");
  return detail::textcl::build(detail::textcl::load_sources(options), options);
}

/// The text the base GPT of textcl is pretrained on: fortunes and the three dictionaries (headword
/// lines included, each text on one line, at most 2 KiB of it), the four sources interleaved with
/// equal bytes each, up to options.pretrain_max_bytes. Every text that gave a dev or test input of
/// `textcl` is left out, and so is every text holding such an input anywhere: no dev or test input
/// occurs in the result. Deterministic for the options (pass those that built `textcl`).
inline std::string textcl_pretraining_corpus(const Stream& textcl,
                                             const TextclOptions& options = {}) {
  detail::textcl::check_options(options, "textcl_pretraining_corpus");
  return detail::textcl::corpus_text(detail::textcl::load_sources(options), textcl, options);
}

/// Builds textcl and writes the stream folder `dir` (created if needed): stream.json,
/// `<task>/{train,dev,test}.jsonl`, pretrain.txt (the pretraining corpus) and BUILD_INFO.json
/// (builder, version, seed, options, Debian packages, counts). Each file is replaced atomically.
/// Throws as build_textcl, and Error(io) naming a file that cannot be written.
inline void save_textcl(const std::string& dir, const TextclOptions& options = {}) {
  detail::textcl::check_options(options, "save_textcl");
  const auto docs = detail::textcl::load_sources(options);
  const Stream stream = detail::textcl::build(docs, options);
  const std::string corpus = detail::textcl::corpus_text(docs, stream, options);
  save_stream(dir, stream);
  write_file_atomically(dir + "/pretrain.txt", corpus);
  nlohmann::ordered_json info;
  info["builder"] = "textcl";
  info["everlora_version"] = EVERLORA_VERSION_STRING;
  info["seed"] = options.seed;
  info["options"] = {{"train_per_label", options.train_per_label},
                     {"dev_per_label", options.dev_per_label},
                     {"test_per_label", options.test_per_label},
                     {"max_input_bytes", options.max_input_bytes},
                     {"min_input_bytes", options.min_input_bytes},
                     {"pretrain_max_bytes", options.pretrain_max_bytes},
                     {"fortunes_dir", options.fortunes_dir},
                     {"dictd_dir", options.dictd_dir}};
  info["sources"] = {"fortunes", "dict-jargon", "dict-foldoc", "dict-devil"};
  info["counts"] = detail::corpus::split_counts(stream);
  info["pretrain_bytes"] = corpus.size();
  write_file_atomically(dir + "/BUILD_INFO.json", info.dump(2) + "\n");
}

}  // namespace everlora

#endif  // EVERLORA_DATA_BUILDERS_TEXTCL_HPP
