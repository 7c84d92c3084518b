// everlora — builds domains, the bundled domain-incremental language-modelling stream
// (BENCHMARKS.md, "Bundled quality benchmarks"): one next-byte task per text domain, from Debian's
// packages fortunes, dict-jargon, dict-foldoc and dict-devil. Deterministic for a seed.
//
// The five domains, in training order (train/dev/test documents each, 400/50/50 by default):
//   jargon     entries of the Jargon File (dict-jargon)
//   computers  quotes of the fortunes file "computers"
//   devil      entries of Ambrose Bierce's The Devil's Dictionary (dict-devil)
//   foldoc     entries of the Free On-line Dictionary of Computing (dict-foldoc)
//   poems      quotes of the fortunes file "songs-poems"
// A document is one cleaned text (one line, whitespace collapsed, {link} braces and FOLDOC's date
// removed, headword kept) cut at a word boundary to max_doc_bytes; shorter than min_doc_bytes, it
// is not used. Each task is Example{instruction = "", input = document, output = ""} with
// TaskMetric::next_byte.
// @sa docs/concepts/benchmarks_data.md
#ifndef EVERLORA_DATA_BUILDERS_DOMAINS_HPP
#define EVERLORA_DATA_BUILDERS_DOMAINS_HPP

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>
#include <vector>

#include "everlora/config.hpp"
#include "everlora/core/error.hpp"
#include "everlora/data/builders/common.hpp"
#include "everlora/data/builders/textcl.hpp"
#include "everlora/data/dictd.hpp"
#include "everlora/data/fortunes.hpp"
#include "everlora/data/stream.hpp"
#include "everlora/data/task.hpp"
#include "everlora/io/atomic_file.hpp"
#include "everlora/version.hpp"

namespace everlora {

/// How build_domains draws the stream. The defaults are the pinned benchmark.
struct DomainsOptions {
  std::uint64_t seed = 1;     ///< which documents, which split, which order
  Index train_docs = 400;     ///< documents of each domain in train.jsonl (≥ 1)
  Index dev_docs = 50;        ///< … in dev.jsonl (≥ 0)
  Index test_docs = 50;       ///< … in test.jsonl (≥ 1)
  Index max_doc_bytes = 256;  ///< longer texts are cut at a word boundary
  std::string fortunes_dir = kFortunesDir;
  std::string dictd_dir = kDictdDir;
  Index min_doc_bytes = 64;  ///< shorter documents are not used
};

namespace detail {
namespace domains {

/// The domains in training order: task name and which texts belong to it.
struct DomainRule {
  const char* name;
  bool (*match)(const textcl::Doc&);
};

inline std::vector<DomainRule> domain_rules() {
  using textcl::Doc;
  using textcl::Origin;
  return {
      {"jargon", [](const Doc& d) { return d.origin == Origin::jargon; }},
      {"computers", [](const Doc& d) { return textcl::is_fortune(d, "computers"); }},
      {"devil", [](const Doc& d) { return d.origin == Origin::devil; }},
      {"foldoc", [](const Doc& d) { return d.origin == Origin::foldoc && !d.ambiguous; }},
      {"poems", [](const Doc& d) { return textcl::is_fortune(d, "songs-poems"); }},
  };
}

inline void check_options(const DomainsOptions& o, const char* who) {
  using corpus::require_option;
  require_option(o.train_docs >= 1, who,
                 "train_docs must be at least 1, got " + std::to_string(o.train_docs));
  require_option(o.dev_docs >= 0, who,
                 "dev_docs must not be negative, got " + std::to_string(o.dev_docs));
  require_option(o.test_docs >= 1, who,
                 "test_docs must be at least 1, got " + std::to_string(o.test_docs));
  require_option(o.min_doc_bytes >= 1 && o.max_doc_bytes >= o.min_doc_bytes, who,
                 "need 1 <= min_doc_bytes <= max_doc_bytes, got " + std::to_string(o.min_doc_bytes) +
                     " and " + std::to_string(o.max_doc_bytes));
}

inline Stream build(const std::vector<textcl::Doc>& docs, const DomainsOptions& o) {
  const char* who = "build_domains";
  check_options(o, who);
  const auto rules = domain_rules();
  const auto need = static_cast<std::size_t>(o.train_docs + o.dev_docs + o.test_docs);
  Stream stream;
  stream.name = "domains";
  std::unordered_set<std::string> seen;  // every document once in the whole stream
  for (std::size_t t = 0; t < rules.size(); ++t) {
    Task task;
    task.spec.name = rules[t].name;
    task.spec.metric = TaskMetric::next_byte;
    std::vector<std::size_t> pool;
    for (std::size_t k = 0; k < docs.size(); ++k)
      if (!docs[k].full.empty() && rules[t].match(docs[k])) pool.push_back(k);
    Rng rng = corpus::part_rng(o.seed, 1000 + t);
    corpus::shuffle(pool, rng);
    std::vector<std::string> picked;
    for (std::size_t i = 0; i < pool.size() && picked.size() < need; ++i) {
      std::string doc = corpus::truncate_text(docs[pool[i]].full, o.max_doc_bytes);
      if (static_cast<Index>(doc.size()) < o.min_doc_bytes || !seen.insert(doc).second) continue;
      picked.push_back(std::move(doc));
    }
    if (picked.size() < need)
      throw Error(ErrorKind::config, std::string(who) + ": domain '" + task.spec.name +
                                         "': only " + std::to_string(picked.size()) +
                                         " usable documents in " + o.fortunes_dir + " and " +
                                         o.dictd_dir + ", " + std::to_string(need) +
                                         " needed (train_docs + dev_docs + test_docs)");
    for (std::size_t i = 0; i < need; ++i) {
      auto& split = i < static_cast<std::size_t>(o.train_docs)                ? task.train
                    : i < static_cast<std::size_t>(o.train_docs + o.dev_docs) ? task.dev
                                                                              : task.test;
      split.push_back({"", std::move(picked[i]), ""});
    }
    stream.tasks.push_back(std::move(task));
  }
  return stream;
}

inline std::vector<textcl::Doc> load_sources(const DomainsOptions& o) {
  TextclOptions dirs;
  dirs.fortunes_dir = o.fortunes_dir;
  dirs.dictd_dir = o.dictd_dir;
  return textcl::load_sources(dirs);
}

}  // namespace domains
}  // namespace detail

/// The domains stream: one language-modelling task per domain (TaskMetric::next_byte, no labels),
/// Example{"", document, ""}, every document once in the whole stream, splits in random order.
/// Same options → identical stream. Throws Error(io) naming the Debian package when fortunes or a
/// dictionary is missing, Error(config) for invalid options or when a domain has fewer usable
/// documents than train_docs + dev_docs + test_docs.
inline Stream build_domains(const DomainsOptions& options = {}) {
  detail::domains::check_options(options, "build_domains");
  return detail::domains::build(detail::domains::load_sources(options), options);
}

/// Builds domains and writes the stream folder `dir` (created if needed): stream.json (each task
/// with "metric": "next_byte"), `<task>/{train,dev,test}.jsonl` and BUILD_INFO.json. Each file is
/// replaced atomically. Throws as build_domains, and Error(io) naming a file that cannot be
/// written.
inline void save_domains(const std::string& dir, const DomainsOptions& options = {}) {
  const Stream stream = build_domains(options);
  save_stream(dir, stream);
  nlohmann::ordered_json info;
  info["builder"] = "domains";
  info["everlora_version"] = EVERLORA_VERSION_STRING;
  info["seed"] = options.seed;
  info["options"] = {{"train_docs", options.train_docs},       {"dev_docs", options.dev_docs},
                     {"test_docs", options.test_docs},         {"max_doc_bytes", options.max_doc_bytes},
                     {"min_doc_bytes", options.min_doc_bytes}, {"fortunes_dir", options.fortunes_dir},
                     {"dictd_dir", options.dictd_dir}};
  info["sources"] = {"fortunes", "dict-jargon", "dict-foldoc", "dict-devil"};
  info["counts"] = detail::corpus::split_counts(stream);
  write_file_atomically(dir + "/BUILD_INFO.json", info.dump(2) + "\n");
}

}  // namespace everlora

#endif  // EVERLORA_DATA_BUILDERS_DOMAINS_HPP
