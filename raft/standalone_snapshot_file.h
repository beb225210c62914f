#pragma once
// One snapshot file on its own, outside any SnapshotStore directory -- a
// backup (kvctl snapshot save) -- seen as a read-only SnapshotStore that
// holds it at whatever index is asked, so that the snapshot_file reader
// (read_metadata, verify, Decoder) checks and decodes it like any other.

#include <cstdio>
#include <memory>
#include <string>

#include "raft/snapshot_store.h"

namespace raft {

class StandaloneSnapshotFile final : public SnapshotStore {
 public:
  // An error if the file cannot be opened.
  static Result<std::unique_ptr<StandaloneSnapshotFile>> open(const std::string& path);
  ~StandaloneSnapshotFile() override;

  Result<std::unique_ptr<SnapshotFileWriter>> create(Index index) override;  // refused: read-only
  Result<std::string> read(Index index, std::uint64_t offset, std::size_t length) override;
  Result<std::uint64_t> size(Index index) override;
  Status remove_all_except(Index keep) override;  // nothing to do
  Status remove_before(Index index) override;     // nothing to do
  Status remove(Index index) override;            // refused: read-only

 private:
  StandaloneSnapshotFile(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  Error io_error(const std::string& what) const;

  std::string path_;
  std::FILE* file_;
};

}  // namespace raft
