// everlora — reads dictd dictionaries, the format of Debian's dict-* packages (dict-jargon,
// dict-foldoc, dict-devil, …): /usr/share/dictd/<name>.index holds one line per headword,
// "headword \t offset \t length" with offset and length written in dictd's base64 digits, and
// <name>.dict.dz holds the definitions, dictzip-compressed (gzip-compatible, so zlib reads it whole).
// read_dictd returns the entries in index order without dictd's own "00database…" metadata entries.
#ifndef EVERLORA_DATA_DICTD_HPP
#define EVERLORA_DATA_DICTD_HPP

#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "everlora/core/error.hpp"
#include "everlora/io/atomic_file.hpp"

namespace everlora {

/// Where Debian installs the dictd dictionaries.
inline const char* const kDictdDir = "/usr/share/dictd";

/// One definition of a dictd dictionary.
struct DictEntry {
  std::string headword;    ///< as the index spells it (dictd indexes are lower-cased)
  std::string definition;  ///< the raw text, headword line and markup ({links}) included
};

/// The value of dictd's base64 number `digits` (alphabet A–Z a–z 0–9 + /, most significant digit
/// first: "A" = 0, "BA" = 64). Throws Error(format) on an empty number, a character outside the
/// alphabet or a value that does not fit 64 bits.
inline std::uint64_t decode_dictd_number(std::string_view digits);

namespace detail {
namespace dictd {

/// decode_dictd_number without throwing: false, with the reason in `why`, on a bad number.
inline bool try_decode(std::string_view digits, std::uint64_t& value, std::string& why) {
  value = 0;
  if (digits.empty()) {
    why = "empty number";
    return false;
  }
  if (digits.size() > 10) {  // 64^10 = 2^60: ten digits always fit, eleven may not
    why = "'" + std::string(digits) + "' has too many digits";
    return false;
  }
  for (const char c : digits) {
    int d = -1;
    if (c >= 'A' && c <= 'Z') d = c - 'A';
    else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
    else if (c >= '0' && c <= '9') d = c - '0' + 52;
    else if (c == '+') d = 62;
    else if (c == '/') d = 63;
    if (d < 0) {
      why = "'" + std::string(digits) + "': '" + std::string(1, c) + "' is not a base64 digit";
      return false;
    }
    value = value * 64 + static_cast<std::uint64_t>(d);
  }
  return true;
}

/// "dict-<stem>" for "<dir>/<stem>.index" or "<dir>/<stem>.dict.dz": the Debian package that
/// usually ships the file.
inline std::string package_for(const std::string& path) {
  std::string stem = std::filesystem::path(path).filename().string();
  stem = stem.substr(0, stem.find('.'));
  return stem.empty() ? std::string("dictd") : "dict-" + stem;
}

/// Throws Error(io) naming `path` and the package when the file does not exist.
inline void require_file(const std::string& path, const std::string& package) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw Error(ErrorKind::io, "read_dictd: " + path + " not found: install Debian's package '" +
                                   package + "' (apt-get install " + package +
                                   "; scripts/setup.sh does)");
}

/// The whole decompressed content of a gzip (or dictzip, or plain) file.
inline std::string gunzip_file(const std::string& path) {
  gzFile file = ::gzopen(path.c_str(), "rb");
  if (file == nullptr)
    throw Error(ErrorKind::io, "read_dictd: cannot open '" + path + "': " +
                                   (errno ? std::strerror(errno) : "out of memory"));
  ::gzbuffer(file, 1u << 17);
  std::string out;
  std::vector<char> chunk(std::size_t(1) << 20);
  for (;;) {
    const int n = ::gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int code = 0;
      const std::string message = ::gzerror(file, &code);
      ::gzclose(file);
      throw Error(ErrorKind::format, "read_dictd: '" + path + "' is not valid gzip/dictzip data: " +
                                         message);
    }
    if (n == 0) break;
    out.append(chunk.data(), static_cast<std::size_t>(n));
  }
  ::gzclose(file);
  return out;
}

}  // namespace dictd
}  // namespace detail

inline std::uint64_t decode_dictd_number(std::string_view digits) {
  std::uint64_t value = 0;
  std::string why;
  if (!detail::dictd::try_decode(digits, value, why))
    throw Error(ErrorKind::format, "dictd number: " + why);
  return value;
}

/// Every entry of the dictd dictionary `index_path` + `dict_path` (.dict.dz or plain .dict), in
/// index order, without the "00database…" metadata entries. Entries that share a definition
/// (dictd's aliases) each appear, with the same text.
/// Throws Error(io) naming the missing file and the Debian package to install (`package`, or
/// "dict-<stem>" derived from the index file's name), Error(format) naming `file:line` for a
/// malformed index line (fewer than 3 tab-separated fields, a bad base64 number, a range past the
/// end of the dictionary) or naming the file for corrupt compressed data.
inline std::vector<DictEntry> read_dictd(const std::string& index_path,
                                         const std::string& dict_path,
                                         const std::string& package = "") {
  const std::string pkg = package.empty() ? detail::dictd::package_for(index_path) : package;
  detail::dictd::require_file(index_path, pkg);
  detail::dictd::require_file(dict_path, pkg);
  const std::string index = read_file(index_path);
  const std::string dict = detail::dictd::gunzip_file(dict_path);

  std::vector<DictEntry> out;
  std::size_t pos = 0;
  std::size_t line_no = 0;
  while (pos < index.size()) {
    std::size_t end = index.find('\n', pos);
    if (end == std::string::npos) end = index.size();
    std::string_view line(index.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::string where = index_path + ":" + std::to_string(line_no);
    const std::size_t tab1 = line.find('\t');
    const std::size_t tab2 = tab1 == std::string_view::npos ? tab1 : line.find('\t', tab1 + 1);
    if (tab2 == std::string_view::npos)
      throw Error(ErrorKind::format, "read_dictd: " + where +
                                         ": expected 'headword<TAB>offset<TAB>length', got '" +
                                         std::string(line.substr(0, 80)) + "'");
    std::size_t tab3 = line.find('\t', tab2 + 1);  // a 4th field (original headword) is ignored
    if (tab3 == std::string_view::npos) tab3 = line.size();
    const std::string_view headword = line.substr(0, tab1);
    std::uint64_t offset = 0, length = 0;
    std::string why;
    if (!detail::dictd::try_decode(line.substr(tab1 + 1, tab2 - tab1 - 1), offset, why))
      throw Error(ErrorKind::format, "read_dictd: " + where + ": bad offset: " + why);
    if (!detail::dictd::try_decode(line.substr(tab2 + 1, tab3 - tab2 - 1), length, why))
      throw Error(ErrorKind::format, "read_dictd: " + where + ": bad length: " + why);
    if (offset > dict.size() || length > dict.size() - offset)
      throw Error(ErrorKind::format,
                  "read_dictd: " + where + ": entry '" + std::string(headword) + "' (offset " +
                      std::to_string(offset) + ", length " + std::to_string(length) +
                      ") points past the end of " + dict_path + " (" +
                      std::to_string(dict.size()) + " bytes uncompressed)");
    if (headword.substr(0, 10) == "00database") continue;
    out.push_back({std::string(headword), dict.substr(static_cast<std::size_t>(offset),
                                                      static_cast<std::size_t>(length))});
  }
  return out;
}

/// The dictionary `name` installed in `dir`: read_dictd(dir/name.index, dir/name.dict.dz,
/// "dict-<name>"); a plain dir/name.dict is used when there is no .dict.dz.
inline std::vector<DictEntry> read_dictionary(const std::string& name,
                                              const std::string& dir = kDictdDir) {
  const std::string base = dir + "/" + name;
  std::error_code ec;
  const bool plain = !std::filesystem::exists(base + ".dict.dz", ec) &&
                     std::filesystem::exists(base + ".dict", ec);
  return read_dictd(base + ".index", plain ? base + ".dict" : base + ".dict.dz", "dict-" + name);
}

}  // namespace everlora

#endif  // EVERLORA_DATA_DICTD_HPP
