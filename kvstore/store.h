#pragma once
// kv::Store: the key-value state machine, on its own RocksDB instance.
//
//   column family "default":        "format_version", "active" (a generation)
//   column family "kv.<generation>": "a" -> the applied index,
//                                    "d" + key -> StoredValue
//
// Every record is checksummed (raft::storage_record). apply() writes a
// command's effect and the new applied index in one WriteBatch, so the
// store holds the state after exactly applied_index() commands: no entry
// skipped, none applied twice.
//
// No write goes through RocksDB's write-ahead log (unlogged_write.h): the
// Raft log is the store's write-ahead log, as etcd's WAL is for its bbolt
// backend. What survives a crash is what RocksDB last flushed -- whole
// memtables, in order, each with its applied index -- and the node replays
// the Raft log after it, or restores the latest snapshot when the log was
// compacted past it. (The store first wrote through an unsynced WAL; after
// power failures that kept some of its pages and not others, members
// restarted with states that differed at one applied index.)
//
// A snapshot is a consistent RocksDB read view of the active generation. A
// restore writes the snapshot into a new generation, flushes it, then
// switches "active" to it and flushes that; the old generation is dropped
// only then. A crash in the middle leaves the old generation active and the
// new one is dropped at the next open: the store never holds a mixture, a
// restore is durable once it returns, and it needs memory for one block at
// a time, whatever the size of the state.
//
// apply(), view() and restore() are called from raft::Server's apply thread;
// get() and scans may run concurrently from others.

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>

#include "proto/kv_store.pb.h"
#include "raft/rocksdb_memory.h"
#include "raft/state_machine.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatchWithIndex;
}  // namespace rocksdb

namespace kv {

class Store final : public raft::StateMachine {
 public:
  static constexpr std::uint32_t kFormatVersion = 1;
  // Limits of the client API (docs/api.md); commands beyond them are refused.
  static constexpr std::size_t kMaxKeyBytes = 4096;
  static constexpr std::size_t kMaxValueBytes = 1 << 20;
  // A session unused for this long in cluster time is forgotten.
  static constexpr std::uint64_t kSessionTimeoutMs = 3'600'000;

  // Opens (or creates) the store in `directory`, dropping what a crashed
  // restore left behind. Errors name the directory and what is wrong. With
  // `memory`, its block cache and memtables draw on that shared budget.
  static raft::Result<std::unique_ptr<Store>> open(const std::string& directory,
                                                   std::shared_ptr<raft::RocksDbMemory> memory = nullptr);
  ~Store() override;

  raft::Result<std::string> apply(raft::Index index, std::string_view command) override;
  // Every command in one RocksDB write, with the last one's applied index.
  raft::Result<std::vector<std::string>> apply_all(std::span<const raft::CommittedCommand> commands) override;
  raft::Index applied_index() const override;
  std::unique_ptr<raft::StateMachineView> view() override;
  // The same, from any thread (a backup): its index is read from the same
  // RocksDB snapshot as its data, so the two agree whatever is applied
  // meanwhile. Null if the applied index cannot be read.
  raft::Result<std::unique_ptr<raft::StateMachineView>> consistent_view() const;
  raft::Status restore(raft::Index index, raft::SnapshotSource& source) override;

  // Why `command` would be refused (empty or oversized keys or values, an
  // empty command), or "" when it is valid. The service checks requests
  // with it before they reach Raft; apply() refuses the same ones.
  static std::string problem_with(const pb::Command& command);

  // A read of the current state: one key or a range, at one revision (the
  // header's revision; member, term and cluster are the caller's to fill).
  raft::Result<raftkv::api::RangeResponse> range(const raftkv::api::RangeRequest& request) const;

  // The current value of `key`, if any.
  raft::Result<std::optional<pb::StoredValue>> get(std::string_view key) const;
  // A digest of the whole state (user keys, sessions, cluster time, applied
  // index) read from one RocksDB snapshot: members that applied the same
  // commands have equal digests at equal applied indexes.
  struct Digest {
    raft::Index applied_index = 0;
    std::uint64_t digest = 0;
    std::uint64_t keys = 0;  // user keys
  };
  raft::Result<Digest> digest() const;

  // Every key and value, in key order (for tests and checks of small stores).
  raft::Result<std::vector<std::pair<std::string, pb::StoredValue>>> all() const;

  const std::string& directory() const { return directory_; }
  // Generation of the active column family (1 for a store never restored).
  std::uint64_t generation() const;
  // Client sessions currently remembered (apply thread only).
  std::size_t sessions() const { return session_last_used_.size(); }

 private:
  Store(std::string directory, std::unique_ptr<rocksdb::DB> db, std::shared_ptr<raft::RocksDbMemory> memory);
  raft::Error fault(const std::string& what) const;
  std::shared_ptr<rocksdb::ColumnFamilyHandle> share(rocksdb::ColumnFamilyHandle* handle);
  std::shared_ptr<rocksdb::ColumnFamilyHandle> active() const;
  raft::Result<std::optional<pb::StoredValue>> read_value(rocksdb::ColumnFamilyHandle* family,
                                                          const std::string& key) const;
  // Rebuilds the session index and the cluster time from `family`.
  raft::Status load_sessions(rocksdb::ColumnFamilyHandle* family);

  class Execution;  // store_apply.cc
  raft::Result<std::string> apply_one(rocksdb::ColumnFamilyHandle& family,
                                      rocksdb::WriteBatchWithIndex& batch, raft::Index index,
                                      std::string_view command);

  const std::string directory_;
  std::unique_ptr<rocksdb::DB> db_;
  const std::shared_ptr<raft::RocksDbMemory> memory_;  // may be null: RocksDB's defaults
  rocksdb::ColumnFamilyHandle* default_ = nullptr;
  // The active generation; replaced (under the exclusive lock) by restore().
  // Shared with views being written out, so a generation dropped by a
  // restore stays readable until they are done.
  mutable std::shared_mutex active_mutex_;
  std::shared_ptr<rocksdb::ColumnFamilyHandle> active_;
  std::uint64_t generation_ = 0;
  std::atomic<raft::Index> applied_{0};

  // Apply thread only: the cluster time and when each session was last
  // used, by client and by time (for expiry).
  std::uint64_t cluster_time_ms_ = 0;
  std::map<std::uint64_t, std::uint64_t> session_last_used_;
  std::multimap<std::uint64_t, std::uint64_t> sessions_by_time_;
};

}  // namespace kv
