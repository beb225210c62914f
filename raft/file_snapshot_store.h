#pragma once
// SnapshotStore in a directory: one file per committed snapshot,
// "snapshot-<index>.snap", built under a temporary name, then fsynced,
// renamed and the directory fsynced -- so after a crash a snapshot file is
// either complete or absent. Leftover temporary files are deleted by
// remove_all_except().

#include <mutex>
#include <set>
#include <string>

#include "raft/snapshot_store.h"

namespace raft {

class FileSnapshotStore final : public SnapshotStore {
 public:
  // Creates `directory` if needed.
  static Result<std::unique_ptr<FileSnapshotStore>> open(const std::string& directory);

  Result<std::unique_ptr<SnapshotFileWriter>> create(Index index) override;
  Result<std::string> read(Index index, std::uint64_t offset, std::size_t length) override;
  Result<std::uint64_t> size(Index index) override;
  Status remove_all_except(Index keep) override;
  Status remove_before(Index index) override;
  Status remove(Index index) override;

  std::string path_of(Index index) const;
  const std::string& directory() const { return directory_; }

 private:
  friend class FileSnapshotWriter;
  explicit FileSnapshotStore(std::string directory) : directory_(std::move(directory)) {}
  Error fault(const std::string& what) const;
  Status sync_directory();

  const std::string directory_;
  std::mutex mutex_;
  std::set<std::string> writing_;  // temporary files of live writers
  std::uint64_t next_temporary_ = 0;
};

}  // namespace raft
