// write_file_atomically and read_file: contents, replacement, no leftovers, clean io errors.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <stdexcept>

#include "everlora/io/atomic_file.hpp"
#include "io/io_support.hpp"

using namespace everlora;
using everlora_test::require_error;
using everlora_test::TempDir;

TEST_CASE("write_file_atomically writes bytes that read_file returns unchanged", "[io][atomic]") {
  TempDir dir;
  const std::string path = dir.file("blob.bin");
  std::string bytes("a\0b\xff\n", 5);
  for (int i = 0; i < 3000; ++i) bytes += static_cast<char>(i * 7);
  write_file_atomically(path, bytes);
  CHECK(read_file(path) == bytes);
  CHECK(dir.entries() == std::set<std::string>{"blob.bin"});

  write_file_atomically(path, std::string_view());  // an empty file is a file too
  CHECK(read_file(path).empty());
}

TEST_CASE("write_file_atomically replaces a file and keeps its permissions", "[io][atomic]") {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  write_file_atomically(path, "old");
  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  // Large enough (> the 1 MiB buffer) that the callback's bytes really reach the disk in pieces.
  const std::string big(3 * 1024 * 1024 + 17, 'x');
  write_file_atomically(path, [&](FileWriter& w) {
    w.write("new:");
    w.write(big.data(), big.size());
    w.write(std::string_view("!"));
    CHECK(w.size() == 4 + big.size() + 1);
  });
  CHECK(read_file(path) == "new:" + big + "!");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  CHECK(dir.entries() == std::set<std::string>{"model.safetensors"});
}

TEST_CASE("A writer that throws midway leaves the target unchanged and no temporary behind",
          "[io][atomic]") {
  TempDir dir;
  const std::string path = dir.file("state.bin");
  write_file_atomically(path, "previous content");
  const std::string chunk(512 * 1024, 'y');
  try {
    write_file_atomically(path, [&](FileWriter& w) {
      for (int i = 0; i < 5; ++i) w.write(chunk);  // 2.5 MiB: part of it already written out
      throw std::runtime_error("writer gave up");
    });
    FAIL("the writer's exception must propagate");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "writer gave up");
  }
  CHECK(read_file(path) == "previous content");
  CHECK(dir.entries() == std::set<std::string>{"state.bin"});

  // Without a previous file, nothing at all is left.
  const std::string fresh = dir.file("fresh.bin");
  CHECK_THROWS_AS(write_file_atomically(fresh,
                                        [](FileWriter& w) {
                                          w.write("partial");
                                          throw std::runtime_error("stop");
                                        }),
                  std::runtime_error);
  CHECK(dir.entries() == std::set<std::string>{"state.bin"});
}

TEST_CASE("write_file_atomically io errors name the path and the system's reason", "[io][atomic]") {
  TempDir dir;
  const std::string missing = dir.file("no/such/dir/file.bin");
  require_error([&] { write_file_atomically(missing, "x"); }, ErrorKind::io,
                {missing, "No such file or directory"});

  // Renaming over a directory fails after the temporary was written: it must be removed.
  const std::string sub = dir.file("sub");
  REQUIRE(::mkdir(sub.c_str(), 0755) == 0);
  require_error([&] { write_file_atomically(sub, "x"); }, ErrorKind::io, {sub, "rename"});
  CHECK(dir.entries() == std::set<std::string>{"sub"});

  require_error([&] { write_file_atomically("", "x"); }, ErrorKind::io, {"empty"});
  require_error([&] { write_file_atomically(dir.path() + "/", "x"); }, ErrorKind::io,
                {"does not name a file"});
}

TEST_CASE("read_file io errors name the path and the system's reason", "[io][atomic]") {
  TempDir dir;
  const std::string missing = dir.file("absent.bin");
  require_error([&] { read_file(missing); }, ErrorKind::io,
                {"read_file", missing, "No such file or directory"});
  require_error([&] { read_file(dir.path()); }, ErrorKind::io, {dir.path(), "Is a directory"});
}
