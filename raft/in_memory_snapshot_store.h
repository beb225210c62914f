#pragma once
// SnapshotStore in process memory, for tests and the in-process demo; like
// InMemoryStorage it survives a raft::Server restart, not the process.

#include <map>
#include <mutex>

#include "raft/snapshot_store.h"

namespace raft {

class InMemorySnapshotStore final : public SnapshotStore {
 public:
  Result<std::unique_ptr<SnapshotFileWriter>> create(Index index) override;
  Result<std::string> read(Index index, std::uint64_t offset, std::size_t length) override;
  Result<std::uint64_t> size(Index index) override;
  Status remove_all_except(Index keep) override;
  Status remove_before(Index index) override;
  Status remove(Index index) override;

 private:
  friend class InMemorySnapshotWriter;
  std::mutex mutex_;
  std::map<Index, std::string> files_;
};

}  // namespace raft
