#pragma once
// The simulation's disk for the Raft log: a raft::Storage whose writes are
// volatile until synced, as a real disk's page cache is. Reads see every
// write; sync() makes all of them durable; a crash keeps what was synced
// and, of the writes since, only as many as the crash lets through -- in
// order, each whole (a RocksDB write batch is atomic), any number from
// none to all. A node that acknowledged a write before syncing it can then
// lose what it acknowledged, and the safety checks see it.

#include <functional>
#include <vector>

#include "raft/in_memory_storage.h"

namespace raft::sim {

class SimulatedStorage final : public Storage {
 public:
  Result<PersistentState> load() override { return current_.load(); }
  Status save(const pb::HardState* hard_state, const std::vector<pb::Entry>& entries, bool sync) override;
  Status save_snapshot(const pb::SnapshotMetadata& snapshot) override;
  Status compact(Index through) override;
  Result<std::vector<pb::Entry>> read_entries(Index first, Index last) override {
    return current_.read_entries(first, last);
  }

  // Everything written so far is durable.
  void sync();
  // The power fails: the first `kept` unsynced writes reach the disk, the
  // rest are lost; reads then see the disk.
  void crash(std::size_t kept);
  std::size_t unsynced_writes() const { return unsynced_.size(); }
  // What survives a crash that keeps no unsynced write.
  Result<PersistentState> durable() { return durable_.load(); }

 private:
  using Write = std::function<Status(Storage&)>;
  Status write(Write write);

  InMemoryStorage current_;  // what reads see
  InMemoryStorage durable_;  // what a crash keeps
  std::vector<Write> unsynced_;
};

}  // namespace raft::sim
