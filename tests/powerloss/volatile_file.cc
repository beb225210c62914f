#include "tests/powerloss/volatile_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace raftkv::powerloss {

namespace {

// pread that fills `size` bytes: what the file does not hold reads as zeros.
int read_fully(int fd, char* buffer, std::size_t size, off_t offset) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t got = ::pread(fd, buffer + done, size - done, offset + static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return -errno;
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  std::memset(buffer + done, 0, size - done);
  return 0;
}

int write_fully(int fd, const char* data, std::size_t size, off_t offset) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t put = ::pwrite(fd, data + done, size - done, offset + static_cast<off_t>(done));
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) return -errno;
    done += static_cast<std::size_t>(put);
  }
  return 0;
}

}  // namespace

VolatileFile::VolatileFile(int backing_fd) : fd_(backing_fd) {
  struct stat status {};
  if (::fstat(fd_, &status) == 0) durable_size_ = static_cast<std::uint64_t>(status.st_size);
  size_ = backing_valid_ = durable_size_;
}

VolatileFile::~VolatileFile() {
  ::close(fd_);
}

VolatileFile::Page& VolatileFile::page(std::uint64_t number) {
  auto [at, inserted] = pages_.try_emplace(number);
  if (!inserted) return at->second;
  Page& fresh = at->second;
  fresh.fill(0);
  const std::uint64_t start = number * kPageBytes;
  if (start < backing_valid_) {
    const std::size_t durable =
        static_cast<std::size_t>(std::min<std::uint64_t>(kPageBytes, backing_valid_ - start));
    // A failed read leaves zeros; the next sync writes the page whole, so
    // make it loud rather than silently different.
    if (read_fully(fd_, fresh.data(), durable, static_cast<off_t>(start)) != 0) std::abort();
  }
  return fresh;
}

ssize_t VolatileFile::read(char* buffer, std::size_t size, off_t offset) const {
  if (offset < 0) return -EINVAL;
  const auto from = static_cast<std::uint64_t>(offset);
  if (from >= size_) return 0;
  const std::size_t length = static_cast<std::size_t>(std::min<std::uint64_t>(size, size_ - from));
  for (std::size_t done = 0; done < length;) {
    const std::uint64_t position = from + done;
    const std::uint64_t number = position / kPageBytes;
    const std::size_t within = position % kPageBytes;
    const std::size_t chunk = std::min(kPageBytes - within, length - done);
    if (auto cached = pages_.find(number); cached != pages_.end()) {
      std::memcpy(buffer + done, cached->second.data() + within, chunk);
    } else {
      const std::size_t durable =
          position < backing_valid_
              ? static_cast<std::size_t>(std::min<std::uint64_t>(chunk, backing_valid_ - position))
              : 0;
      if (int failed = read_fully(fd_, buffer + done, durable, static_cast<off_t>(position)); failed != 0)
        return failed;
      std::memset(buffer + done + durable, 0, chunk - durable);
    }
    done += chunk;
  }
  return static_cast<ssize_t>(length);
}

ssize_t VolatileFile::write(const char* data, std::size_t size, off_t offset) {
  if (offset < 0) return -EINVAL;
  const auto from = static_cast<std::uint64_t>(offset);
  for (std::size_t done = 0; done < size;) {
    const std::uint64_t position = from + done;
    const std::size_t within = position % kPageBytes;
    const std::size_t chunk = std::min(kPageBytes - within, size - done);
    std::memcpy(page(position / kPageBytes).data() + within, data + done, chunk);
    done += chunk;
  }
  size_ = std::max<std::uint64_t>(size_, from + size);
  return static_cast<ssize_t>(size);
}

int VolatileFile::truncate(off_t new_size) {
  if (new_size < 0) return -EINVAL;
  const auto size = static_cast<std::uint64_t>(new_size);
  if (size < size_) {
    // Whole pages past the end go; the page the end falls in keeps zeros
    // after it, so that growing the file again reads zeros there.
    pages_.erase(pages_.lower_bound((size + kPageBytes - 1) / kPageBytes), pages_.end());
    if (size % kPageBytes != 0) {
      if (auto partial = pages_.find(size / kPageBytes); partial != pages_.end()) {
        std::fill(partial->second.begin() + static_cast<std::ptrdiff_t>(size % kPageBytes),
                  partial->second.end(), 0);
      }
    }
    backing_valid_ = std::min(backing_valid_, size);
  }
  size_ = size;
  return 0;
}

int VolatileFile::write_page(std::uint64_t number, std::size_t bytes) {
  return write_fully(fd_, pages_.at(number).data(), bytes, static_cast<off_t>(number * kPageBytes));
}

int VolatileFile::sync() {
  if (backing_valid_ < durable_size_ && ::ftruncate(fd_, static_cast<off_t>(backing_valid_)) != 0)
    return -errno;
  for (const auto& [number, content] : pages_) {
    const std::size_t bytes =
        static_cast<std::size_t>(std::min<std::uint64_t>(kPageBytes, size_ - number * kPageBytes));
    if (int failed = write_page(number, bytes); failed != 0) return failed;
  }
  if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) return -errno;
  // The backing file is not fdatasync'ed: only this file system's power
  // fails, never the machine's, so bytes in the host's page cache are as
  // good as on its disk -- and a test run stays fast.
  pages_.clear();
  durable_size_ = backing_valid_ = size_;
  return 0;
}

PowerLossReport VolatileFile::lose_power(std::mt19937_64& random) {
  PowerLossReport report;
  report.volatile_pages = pages_.size();
  // Half the time the disk holds nothing that was not synced; otherwise
  // whatever the kernel happened to write back, page by page, in any order.
  if (random() % 2 == 0) {
    pages_.clear();
    return report;
  }
  if (backing_valid_ < durable_size_ && random() % 2 == 0) {
    report.kept_truncation = ::ftruncate(fd_, static_cast<off_t>(backing_valid_)) == 0;
  }
  for (const auto& [number, content] : pages_) {
    if (random() % 2 == 0) continue;
    std::size_t bytes =
        static_cast<std::size_t>(std::min<std::uint64_t>(kPageBytes, size_ - number * kPageBytes));
    if (random() % 4 == 0) {  // the write stopped at a sector boundary
      const std::size_t sectors = 1 + random() % (kPageBytes / kSectorBytes - 1);
      if (sectors * kSectorBytes < bytes) {
        bytes = sectors * kSectorBytes;
        ++report.torn_pages;
      }
    }
    if (write_page(number, bytes) == 0) ++report.kept_pages;
  }
  pages_.clear();
  return report;
}

}  // namespace raftkv::powerloss
