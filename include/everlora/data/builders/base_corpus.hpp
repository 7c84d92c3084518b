// everlora — the pretraining corpus of the bundled base model (models/everlora-base): English from
// Debian's packages, without any dev or test example of the bundled text benchmarks.
//
//   textcl's sources   fortunes, dict-jargon, dict-foldoc, dict-devil (textcl_pretraining_corpus,
//                      uncapped: every text that gave a textcl dev or test input is already out)
//   dict-gcide         the Collaborative International Dictionary of English (Webster's 1913 and
//                      later), one entry a document, its "[1913 Webster]"-style source tags dropped
//   dict-wn            WordNet 3.0's glosses and examples, one entry a document
//
// Every document is one cleaned line (whitespace collapsed, {link} braces removed) of at most
// max_document_bytes, once (dictd indexes one entry under each of its headwords). A document that holds any dev or test input of textcl or any dev or test
// document of domains (as text anywhere in it) is left out. The documents are shuffled with the
// seed; every held_out_every-th one goes to the held-out split, on which the base's held-out loss
// is measured. Deterministic for the options.
// @sa docs/base_model.md
#ifndef EVERLORA_DATA_BUILDERS_BASE_CORPUS_HPP
#define EVERLORA_DATA_BUILDERS_BASE_CORPUS_HPP

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "everlora/data/builders/common.hpp"
#include "everlora/data/builders/domains.hpp"
#include "everlora/data/builders/textcl.hpp"
#include "everlora/data/dictd.hpp"

namespace everlora {

struct BaseCorpusOptions {
  std::uint64_t seed = 1;           ///< the shuffle and the held-out split
  Index max_document_bytes = 2048;  ///< longer documents are cut at a word boundary
  Index min_document_bytes = 16;    ///< shorter documents are left out
  Index held_out_every = 200;       ///< every n-th document (after the shuffle) is held out
  TextclOptions textcl;             ///< the textcl whose dev and test inputs stay out (the pinned one)
  DomainsOptions domains;           ///< the domains whose dev and test documents stay out
  std::string dictd_dir = kDictdDir;
};

/// The corpus: documents (one line each, no newline inside) for training and held out, and how
/// many bytes each source gave and how many documents were left out as leaks.
struct BaseCorpus {
  std::vector<std::string> train, held_out;
  std::map<std::string, Index> bytes_by_source;
  Index leaks_dropped = 0;
};

namespace detail {
namespace base_corpus {

/// A dictd entry as one line: cleaned, with GCIDE's source tags ("[1913 Webster]", "[PJC]", …)
/// taken out.
inline std::string entry_line(const std::string& definition) {
  std::string text = corpus::clean_text(definition, /*strip_braces=*/true);
  for (const char* tag : {" [1913 Webster]", " [Webster 1913 Suppl.]", " [PJC]", " [WordNet 1.5]", " [Century Dict.]"}) {
    for (std::size_t at; (at = text.find(tag)) != std::string::npos;) text.erase(at, std::string_view(tag).size());
  }
  return text;
}

/// The dev and test texts of textcl and domains, as the patterns a leaking document holds.
inline std::vector<std::string> held_out_texts(const Stream& textcl, const Stream& domains, Index min_bytes) {
  std::vector<std::string> patterns;
  for (const Stream* stream : {&textcl, &domains})
    for (const Task& task : stream->tasks)
      for (const auto* split : {&task.dev, &task.test})
        for (const Example& ex : *split) {
          patterns.push_back(ex.input);
          const std::size_t colon = ex.input.find(": ");  // textcl's pos shows "headword: definition"
          if (colon != std::string::npos && static_cast<Index>(ex.input.size() - colon - 2) >= min_bytes)
            patterns.push_back(ex.input.substr(colon + 2));
        }
  std::sort(patterns.begin(), patterns.end());
  patterns.erase(std::unique(patterns.begin(), patterns.end()), patterns.end());
  return patterns;
}

}  // namespace base_corpus
}  // namespace detail

/// Builds the corpus (see the file comment). Throws Error(io) naming the Debian package of a
/// missing source.
inline BaseCorpus build_base_corpus(const BaseCorpusOptions& o = {}) {
  detail::corpus::require_option(o.max_document_bytes >= o.min_document_bytes && o.min_document_bytes >= 1, "build_base_corpus",
                         "need 1 <= min_document_bytes <= max_document_bytes");
  detail::corpus::require_option(o.held_out_every >= 2, "build_base_corpus", "held_out_every must be >= 2");
  const Stream textcl = build_textcl(o.textcl);
  const Stream domains = build_domains(o.domains);
  const detail::corpus::SubstringIndex leak(detail::base_corpus::held_out_texts(textcl, domains, o.textcl.min_input_bytes));

  BaseCorpus out;
  std::vector<std::string> documents;
  std::unordered_set<std::string> seen;  // a dictd entry that several headwords index comes once
  auto add = [&](const std::string& source, std::string text) {
    text = detail::corpus::truncate_text(text, o.max_document_bytes);
    if (static_cast<Index>(text.size()) < o.min_document_bytes || !seen.insert(text).second) return;
    if (leak.found_in(text)) {
      ++out.leaks_dropped;
      return;
    }
    out.bytes_by_source[source] += static_cast<Index>(text.size());
    documents.push_back(std::move(text));
  };
  TextclOptions uncapped = o.textcl;
  uncapped.pretrain_max_bytes = Index(1) << 40;
  const std::string textcl_text = textcl_pretraining_corpus(textcl, uncapped);
  for (std::size_t start = 0; start < textcl_text.size();) {
    const std::size_t end = std::min(textcl_text.find('\n', start), textcl_text.size());
    add("fortunes, jargon, foldoc, devil", textcl_text.substr(start, end - start));
    start = end + 1;
  }
  for (const char* name : {"gcide", "wn"})
    for (const DictEntry& entry : read_dictionary(name, o.dictd_dir)) add(std::string("dict-") + name, detail::base_corpus::entry_line(entry.definition));

  Rng rng = detail::corpus::part_rng(o.seed, 0xba5e);
  detail::corpus::shuffle(documents, rng);
  for (std::size_t i = 0; i < documents.size(); ++i)
    (i % static_cast<std::size_t>(o.held_out_every) == 0 ? out.held_out : out.train).push_back(std::move(documents[i]));
  return out;
}

}  // namespace everlora

#endif  // EVERLORA_DATA_BUILDERS_BASE_CORPUS_HPP
