#pragma once
// A node's data directory, as raftkvd lays it out:
//
//   DIR/raft        RocksDbStorage: the Raft log, hard state, snapshot record
//   DIR/snapshots   FileSnapshotStore: snapshot files
//   DIR/kv          kv::Store: the key-value state machine
//
// Opening it refuses another cluster's or node's directory, a newer format
// and damaged records, each with one message naming the directory and the
// fault; check() then reads everything a start would load.

#include <memory>
#include <string>

#include "kvstore/store.h"
#include "raft/file_snapshot_store.h"
#include "raft/rocksdb_storage.h"

namespace raftkv {

struct NodeStorageSummary {
  raft::pb::HardState hard_state;
  raft::pb::SnapshotMetadata snapshot;
  raft::Index first_log_index = 0;
  raft::Index last_log_index = 0;
  raft::Index applied_index = 0;
  std::size_t keys = 0;
};

class NodeStorage {
 public:
  enum class Mode {
    kCreateIfMissing,  // a node starting: a missing or empty directory becomes a new node's
    kExistingOnly,     // a check: nothing is created
  };
  // Refuses a directory that is not empty and holds no node's data, before
  // anything is created in it.
  // With `memory`, both RocksDB databases share that budget for block cache
  // and memtables; without, each uses RocksDB's defaults.
  static raft::Result<NodeStorage> open(const std::string& directory, raft::StorageIdentity identity,
                                        Mode mode, std::shared_ptr<raft::RocksDbMemory> memory = nullptr);

  // Loads the log, checks the latest snapshot file end to end, and checks
  // that the key-value store fits the log (it is not behind the log's
  // compaction point, unless the snapshot can restore it). A node started
  // on a directory that passes this starts; one that fails it would refuse.
  raft::Result<NodeStorageSummary> check();

  const std::string& directory() const { return directory_; }
  const std::shared_ptr<raft::RocksDbStorage>& raft() const { return raft_; }
  const std::shared_ptr<raft::FileSnapshotStore>& snapshots() const { return snapshots_; }
  const std::shared_ptr<kv::Store>& store() const { return store_; }

 private:
  std::string directory_;
  std::shared_ptr<raft::RocksDbStorage> raft_;
  std::shared_ptr<raft::FileSnapshotStore> snapshots_;
  std::shared_ptr<kv::Store> store_;
};

}  // namespace raftkv
