#include "raft/file_snapshot_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace raft {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPrefix = "snapshot-";
constexpr std::string_view kSuffix = ".snap";
constexpr std::string_view kTemporarySuffix = ".tmp";

std::string errno_text() {
  return std::strerror(errno);
}

}  // namespace

class FileSnapshotWriter final : public SnapshotFileWriter {
 public:
  FileSnapshotWriter(FileSnapshotStore& store, Index index, std::string path, int fd)
      : store_(store), index_(index), path_(std::move(path)), fd_(fd) {}

  ~FileSnapshotWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
    std::lock_guard lock(store_.mutex_);
    store_.writing_.erase(path_);
  }

  Status append(std::string_view bytes) override {
    while (!bytes.empty()) {
      const ssize_t written = ::write(fd_, bytes.data(), bytes.size());
      if (written < 0 && errno == EINTR) continue;
      if (written < 0) return store_.fault("cannot write " + path_ + ": " + errno_text());
      bytes.remove_prefix(static_cast<std::size_t>(written));
      size_ += static_cast<std::uint64_t>(written);
    }
    return {};
  }

  std::uint64_t size() const override { return size_; }

  Status commit() override {
    if (::fdatasync(fd_) != 0) return store_.fault("cannot sync " + path_ + ": " + errno_text());
    ::close(fd_);
    fd_ = -1;
    const std::string target = store_.path_of(index_);
    if (::rename(path_.c_str(), target.c_str()) != 0) {
      return store_.fault("cannot rename " + path_ + " to " + target + ": " + errno_text());
    }
    committed_ = true;
    return store_.sync_directory();
  }

 private:
  FileSnapshotStore& store_;
  Index index_;
  std::string path_;
  int fd_;
  std::uint64_t size_ = 0;
  bool committed_ = false;
};

Result<std::unique_ptr<FileSnapshotStore>> FileSnapshotStore::open(const std::string& directory) {
  std::error_code error;
  fs::create_directories(directory, error);
  if (error || !fs::is_directory(directory, error)) {
    return Error{ErrorCode::kStorage,
                 "snapshot directory " + directory + " cannot be created: " + error.message()};
  }
  return std::unique_ptr<FileSnapshotStore>(new FileSnapshotStore(directory));
}

Error FileSnapshotStore::fault(const std::string& what) const {
  return Error{ErrorCode::kStorage, "snapshot directory " + directory_ + ": " + what};
}

std::string FileSnapshotStore::path_of(Index index) const {
  char name[64];
  std::snprintf(name, sizeof name, "%s%020llu%s", kPrefix.data(), static_cast<unsigned long long>(index),
                kSuffix.data());
  return (fs::path(directory_) / name).string();
}

Status FileSnapshotStore::sync_directory() {
  const int fd = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fault("cannot open the directory to sync it: " + errno_text());
  const int synced = ::fsync(fd);
  ::close(fd);
  if (synced != 0) return fault("cannot sync the directory: " + errno_text());
  return {};
}

Result<std::unique_ptr<SnapshotFileWriter>> FileSnapshotStore::create(Index index) {
  std::string path;
  {
    std::lock_guard lock(mutex_);
    path = (fs::path(directory_) / ("incoming-" + std::to_string(index) + "-" +
                                    std::to_string(next_temporary_++) + std::string(kTemporarySuffix)))
               .string();
    writing_.insert(path);
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::lock_guard lock(mutex_);
    writing_.erase(path);
    return fault("cannot create " + path + ": " + errno_text());
  }
  return std::unique_ptr<SnapshotFileWriter>(std::make_unique<FileSnapshotWriter>(*this, index, path, fd));
}

Result<std::string> FileSnapshotStore::read(Index index, std::uint64_t offset, std::size_t length) {
  const std::string path = path_of(index);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fault("cannot open " + path + ": " + errno_text());
  std::string bytes(length, '\0');
  std::size_t filled = 0;
  while (filled < length) {
    const ssize_t got =
        ::pread(fd, bytes.data() + filled, length - filled, static_cast<off_t>(offset + filled));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const std::string reason = errno_text();
      ::close(fd);
      return fault("cannot read " + path + ": " + reason);
    }
    if (got == 0) break;
    filled += static_cast<std::size_t>(got);
  }
  ::close(fd);
  bytes.resize(filled);
  return bytes;
}

Result<std::uint64_t> FileSnapshotStore::size(Index index) {
  std::error_code error;
  const std::uintmax_t bytes = fs::file_size(path_of(index), error);
  if (error) return fault("cannot stat " + path_of(index) + ": " + error.message());
  return static_cast<std::uint64_t>(bytes);
}

Status FileSnapshotStore::remove_all_except(Index keep) {
  const std::string kept = path_of(keep);
  std::error_code error;
  std::lock_guard lock(mutex_);
  for (const fs::directory_entry& entry : fs::directory_iterator(directory_, error)) {
    const std::string path = entry.path().string();
    const std::string name = entry.path().filename().string();
    const bool snapshot = name.starts_with(kPrefix) && name.ends_with(kSuffix);
    const bool leftover = name.ends_with(kTemporarySuffix) && !writing_.contains(path);
    if ((snapshot && path != kept) || leftover) fs::remove(entry.path(), error);
  }
  if (error) return fault("cannot clean up: " + error.message());
  return {};
}

Status FileSnapshotStore::remove_before(Index index) {
  std::error_code error;
  std::lock_guard lock(mutex_);
  for (const fs::directory_entry& entry : fs::directory_iterator(directory_, error)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) continue;
    const std::string digits = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    if (std::stoull(digits) < index) fs::remove(entry.path(), error);
  }
  if (error) return fault("cannot clean up: " + error.message());
  return {};
}

Status FileSnapshotStore::remove(Index index) {
  std::error_code error;
  fs::remove(path_of(index), error);
  if (error) return fault("cannot remove " + path_of(index) + ": " + error.message());
  return {};
}

}  // namespace raft
