#include "raft/standalone_snapshot_file.h"

#include <cerrno>
#include <cstring>

namespace raft {

Result<std::unique_ptr<StandaloneSnapshotFile>> StandaloneSnapshotFile::open(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr)
    return Error{ErrorCode::kInvalidArgument, "cannot open " + path + ": " + std::strerror(errno)};
  return std::unique_ptr<StandaloneSnapshotFile>(new StandaloneSnapshotFile(path, file));
}

StandaloneSnapshotFile::~StandaloneSnapshotFile() {
  std::fclose(file_);
}

Error StandaloneSnapshotFile::io_error(const std::string& what) const {
  return Error{ErrorCode::kStorage, "cannot " + what + " " + path_ + ": " + std::strerror(errno)};
}

Result<std::unique_ptr<SnapshotFileWriter>> StandaloneSnapshotFile::create(Index) {
  return Error{ErrorCode::kInvalidArgument, path_ + " is read-only here"};
}

Result<std::string> StandaloneSnapshotFile::read(Index, std::uint64_t offset, std::size_t length) {
  if (std::fseek(file_, static_cast<long>(offset), SEEK_SET) != 0) return io_error("seek in");
  std::string bytes(length, '\0');
  const std::size_t got = std::fread(bytes.data(), 1, length, file_);
  if (got < length && std::ferror(file_)) return io_error("read");
  bytes.resize(got);
  return bytes;
}

Result<std::uint64_t> StandaloneSnapshotFile::size(Index) {
  if (std::fseek(file_, 0, SEEK_END) != 0) return io_error("seek in");
  const long end = std::ftell(file_);
  if (end < 0) return io_error("measure");
  return static_cast<std::uint64_t>(end);
}

Status StandaloneSnapshotFile::remove_all_except(Index) {
  return {};
}

Status StandaloneSnapshotFile::remove_before(Index) {
  return {};
}

Status StandaloneSnapshotFile::remove(Index) {
  return Error{ErrorCode::kInvalidArgument, path_ + " is read-only here"};
}

}  // namespace raft
