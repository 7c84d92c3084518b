// everlora — a read-only memory map of a whole file, so that multi-gigabyte checkpoints are read
// in place: a page costs memory only while it is being decoded, and release() hands decoded
// ranges back to the kernel.
//   MappedFile file("model.safetensors");
//   std::string_view bytes = file.bytes();
#ifndef EVERLORA_IO_MAPPED_FILE_HPP
#define EVERLORA_IO_MAPPED_FILE_HPP

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "everlora/io/atomic_file.hpp"

namespace everlora {

class MappedFile {
 public:
  /// Maps `path`; Error(io) naming it when it cannot be opened, is a directory or cannot be mapped.
  explicit MappedFile(const std::string& path) : path_(path) {
    detail::FdGuard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw detail::io_error("MappedFile: cannot open", path, errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw detail::io_error("MappedFile: cannot stat", path, errno);
    if (!S_ISREG(st.st_mode)) throw detail::io_error("MappedFile: not a regular file:", path, S_ISDIR(st.st_mode) ? EISDIR : EINVAL);
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ == 0) return;  // mmap refuses empty files; an empty view is what they hold
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (p == MAP_FAILED) throw detail::io_error("MappedFile: cannot map", path, errno);
    data_ = static_cast<const char*>(p);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

  /// Tells the kernel that bytes [begin, end) will not be read again, so their pages leave the
  /// process's resident set (the file is unchanged; a later read maps them in again).
  void release(std::size_t begin, std::size_t end) const {
    if (!data_ || end <= begin) return;
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t first = (begin + page - 1) / page * page, last = end / page * page;
    if (last > first) ::madvise(const_cast<char*>(data_) + first, last - first, MADV_DONTNEED);
  }

 private:
  std::string path_;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace everlora

#endif  // EVERLORA_IO_MAPPED_FILE_HPP
