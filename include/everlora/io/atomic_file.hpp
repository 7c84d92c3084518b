// everlora — atomic file writes and whole-file reads (POSIX).
// write_file_atomically writes to a uniquely named temporary in the target's directory, fsyncs it,
// renames it over the target and fsyncs the directory: a reader (or a restart after a crash) sees
// the previous file or the new one, never a partial one. read_file reads a whole file.
// @sa docs/formats.md
#ifndef EVERLORA_IO_ATOMIC_FILE_HPP
#define EVERLORA_IO_ATOMIC_FILE_HPP

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "everlora/core/error.hpp"

namespace everlora {

namespace detail {

/// "<what> '<path>': <strerror(err)>" as an io error.
inline Error io_error(const std::string& what, const std::string& path, int err) {
  return Error(ErrorKind::io, what + " '" + path + "': " + std::strerror(err));
}

/// Closes a file descriptor on scope exit (errors on this path are already being reported).
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  /// Gives up ownership (the caller closes and checks the result).
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

/// The directory part of `path` ("." when there is none, "/" for a file in the root).
inline std::string parent_directory(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

/// A temporary next to the target, created exclusively; closed and removed on destruction unless
/// commit() renamed it over the target.
class TempFile {
 public:
  explicit TempFile(const std::string& target) : target_(target) {
    const std::size_t slash = target.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "" : target.substr(0, slash + 1);
    const std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
    if (base.empty() || base == "." || base == "..")
      throw Error(ErrorKind::io, "write_file_atomically: '" + target + "' does not name a file");
    static std::atomic<unsigned> counter{0};
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    struct stat st {};
    const bool target_exists = ::stat(target.c_str(), &st) == 0;
    for (int attempt = 0;; ++attempt) {
      // Hidden, short enough for NAME_MAX, unique across processes (pid) and threads (counter).
      path_ = dir + "." + base.substr(0, 96) + ".tmp-" + std::to_string(::getpid()) + "-" +
              std::to_string(counter.fetch_add(1)) + "-" +
              std::to_string(static_cast<unsigned long long>(now) % 1000000007ULL);
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ >= 0) break;
      if (errno != EEXIST || attempt == 100)
        throw io_error("write_file_atomically: cannot create a temporary file for", target_, errno);
    }
    // Keep the permissions of the file being replaced (a new file gets 0666 minus the umask).
    if (target_exists && S_ISREG(st.st_mode)) ::fchmod(fd_, st.st_mode & 07777);
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  /// Writes all of [data, data + size), retrying short writes and EINTR.
  void write_all(const char* data, std::size_t size) {
    while (size > 0) {
      const ssize_t n = ::write(fd_, data, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("cannot write", errno);
      }
      data += n;
      size -= static_cast<std::size_t>(n);
    }
  }

  /// fsync, close, rename over the target, fsync the directory.
  void commit() {
    if (::fsync(fd_) != 0) fail("cannot fsync", errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("cannot close", errno);
    if (::rename(path_.c_str(), target_.c_str()) != 0) fail("cannot rename", errno);
    committed_ = true;
    // The rename is durable only once the directory entry is: sync the directory too. Some file
    // systems cannot fsync a directory (EINVAL); nothing more can be done there.
    const std::string dir = parent_directory(target_);
    FdGuard dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd.get() < 0)
      throw io_error("write_file_atomically: wrote '" + target_ + "' but cannot open its directory",
                     dir, errno);
    if (::fsync(dfd.get()) != 0 && errno != EINVAL && errno != ENOTSUP)
      throw io_error(
          "write_file_atomically: wrote '" + target_ + "' but cannot fsync its directory", dir,
          errno);
  }

 private:
  [[noreturn]] void fail(const char* what, int err) const {
    throw Error(ErrorKind::io, "write_file_atomically '" + target_ + "': " + what +
                                   " the temporary '" + path_ + "': " + std::strerror(err));
  }

  std::string target_;
  std::string path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace detail

class FileWriter;

/// Replaces `path` atomically with the bytes `write` appends to its FileWriter. If `write` throws,
/// its exception propagates unchanged; if the system fails, Error(io) names the path and
/// strerror(errno). Either way the temporary is removed and the previous file is untouched.
inline void write_file_atomically(const std::string& path,
                                  const std::function<void(FileWriter&)>& write);

/// The sink write_file_atomically hands its callback. Buffers small writes.
class FileWriter {
 public:
  /// Appends `size` bytes. Throws Error(io) naming the target if the system write fails.
  void write(const void* data, std::size_t size) {
    if (size == 0) return;
    const char* bytes = static_cast<const char*>(data);
    size_ += size;
    if (buffer_.size() + size <= kBufferSize) {
      buffer_.append(bytes, size);
      return;
    }
    flush();
    if (size >= kBufferSize)
      file_.write_all(bytes, size);
    else
      buffer_.append(bytes, size);
  }
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  /// Bytes appended so far.
  std::uint64_t size() const { return size_; }

 private:
  static constexpr std::size_t kBufferSize = std::size_t(1) << 20;

  friend void write_file_atomically(const std::string&, const std::function<void(FileWriter&)>&);
  explicit FileWriter(detail::TempFile& file) : file_(file) {}
  void flush() {
    file_.write_all(buffer_.data(), buffer_.size());
    buffer_.clear();
  }

  detail::TempFile& file_;
  std::string buffer_;
  std::uint64_t size_ = 0;
};

inline void write_file_atomically(const std::string& path,
                                  const std::function<void(FileWriter&)>& write) {
  if (path.empty()) throw Error(ErrorKind::io, "write_file_atomically: the path is empty");
  detail::TempFile file(path);
  FileWriter writer(file);
  write(writer);
  writer.flush();
  file.commit();
}

/// Replaces `path` atomically with `bytes`.
inline void write_file_atomically(const std::string& path, std::string_view bytes) {
  write_file_atomically(path, [bytes](FileWriter& w) { w.write(bytes); });
}

/// The whole content of `path`. Throws Error(io) naming the path and strerror(errno).
inline std::string read_file(const std::string& path) {
  detail::FdGuard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw detail::io_error("read_file: cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw detail::io_error("read_file: cannot stat", path, errno);
  if (S_ISDIR(st.st_mode)) throw detail::io_error("read_file: cannot read", path, EISDIR);
  // Read straight into the result, sized from fstat; then read on in chunks until end of file
  // (pipes and files that grew). read_some returns the byte count, 0 at end of file.
  const auto read_some = [&](char* dst, std::size_t size) {
    for (;;) {
      const ssize_t n = ::read(fd.get(), dst, size);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) throw detail::io_error("read_file: cannot read", path, errno);
    }
  };
  std::string out(S_ISREG(st.st_mode) && st.st_size > 0 ? static_cast<std::size_t>(st.st_size) : 0,
                  '\0');
  std::size_t used = 0;
  while (used < out.size()) {
    const std::size_t n = read_some(&out[used], out.size() - used);
    if (n == 0) break;
    used += n;
  }
  out.resize(used);
  char chunk[1 << 16];
  while (const std::size_t n = read_some(chunk, sizeof chunk)) out.append(chunk, n);
  return out;
}

}  // namespace everlora

#endif  // EVERLORA_IO_ATOMIC_FILE_HPP
