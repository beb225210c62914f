#pragma once
// What a kernel's page cache holds of one file between its fsyncs: the
// writes and truncations made since the file was last synced, which a power
// failure may lose. The file's durable content is the backing file (on the
// real disk under the test's file system); the volatile part lives only in
// this object, in pages of 4 KiB, until sync() writes it through.
//
// Reads see the file as a program expects (the volatile pages over the
// durable bytes); sync() makes it all durable; lose_power() is what the
// disk holds when the power fails: by chance, none of the volatile writes,
// or any subset of its pages in any order -- as a kernel writing dirty
// pages back on its own schedule leaves them -- some of them torn at a
// 512-byte sector. Nothing that was synced is ever lost.

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <random>
#include <string>

namespace raftkv::powerloss {

constexpr std::size_t kPageBytes = 4096;
constexpr std::size_t kSectorBytes = 512;

// What lose_power() kept of one file, for the file system's report.
struct PowerLossReport {
  std::size_t volatile_pages = 0;
  std::size_t kept_pages = 0;
  std::size_t torn_pages = 0;  // kept only up to a sector inside the page
  bool kept_truncation = false;
};

class VolatileFile {
 public:
  // `backing_fd`: the durable file, open for reading and writing; owned
  // (closed by the destructor). Its current content is what is durable.
  explicit VolatileFile(int backing_fd);
  ~VolatileFile();
  VolatileFile(const VolatileFile&) = delete;
  VolatileFile& operator=(const VolatileFile&) = delete;

  // The file as a program sees it. Return -errno on failure.
  ssize_t read(char* buffer, std::size_t size, off_t offset) const;
  ssize_t write(const char* data, std::size_t size, off_t offset);
  int truncate(off_t size);
  std::uint64_t size() const { return size_; }

  // Writes every volatile change to the backing file: after it returns 0
  // the file's whole content is durable. -errno on failure.
  int sync();

  // The power fails: writes to the backing file what the disk happened to
  // hold (chosen with `random`) and forgets the rest.
  PowerLossReport lose_power(std::mt19937_64& random);

  int backing_fd() const { return fd_; }
  std::size_t volatile_pages() const { return pages_.size(); }

 private:
  using Page = std::array<char, kPageBytes>;
  // The page as it reads now, made volatile (loaded from durable bytes).
  Page& page(std::uint64_t number);
  int write_page(std::uint64_t number, std::size_t bytes);

  int fd_;
  std::uint64_t size_ = 0;  // what a program sees
  // Bytes of the backing file that still read as the file's content: the
  // durable size, lowered by truncations not yet synced. Bytes past it
  // read as zeros unless a volatile page holds them.
  std::uint64_t backing_valid_ = 0;
  std::uint64_t durable_size_ = 0;
  std::map<std::uint64_t, Page> pages_;  // page number -> content
};

}  // namespace raftkv::powerloss
