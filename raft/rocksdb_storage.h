#pragma once
// raft::Storage on RocksDB: one RocksDB instance per node (its data
// directory), with the Raft log and the node's metadata in their own column
// families so that the state machine can keep its data in the same instance.
//
//   column family "raft_log":  key = index (8 bytes, big-endian, so keys sort
//                              in log order), value = record(Entry)
//   column family "raft_meta": "format_version", "identity", "hard_state",
//                              "snapshot" (metadata of the latest snapshot),
//                              "log_base" (the compaction point), each a record
//
// A record is a 4-byte CRC-32C of the payload followed by the payload, so a
// garbled or truncated value is detected on load, not trusted. Every save is
// one atomic WriteBatch (synced when asked), so a crash leaves either all of
// it or none of it.
//
// At open the directory must be empty (it is then initialised) or hold this
// node's data: another cluster's or node's directory, a newer format, or a
// directory that is not a RocksDB database at all is refused, and load()
// refuses a damaged log. Every such error names the directory and the fault.
//
// Not thread-safe: one raft::Server loop uses it.

#include <memory>
#include <string>
#include <vector>

#include "raft/rocksdb_memory.h"
#include "raft/storage.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Iterator;
class WriteBatch;
}  // namespace rocksdb
namespace google::protobuf {
class MessageLite;
}  // namespace google::protobuf

namespace raft {

struct StorageIdentity {
  std::uint64_t cluster_id = 0;
  NodeId node_id = kNoNode;
};

class RocksDbStorage final : public Storage {
 public:
  // The on-disk format this build writes and the newest it can read.
  static constexpr std::uint32_t kFormatVersion = 1;
  static constexpr const char* kLogColumnFamily = "raft_log";
  static constexpr const char* kMetaColumnFamily = "raft_meta";

  // With `memory`, the database's block cache and memtables draw on that
  // shared budget.
  static Result<std::unique_ptr<RocksDbStorage>> open(const std::string& directory, StorageIdentity identity,
                                                      std::shared_ptr<RocksDbMemory> memory = nullptr);
  ~RocksDbStorage() override;

  Result<PersistentState> load() override;
  Status save(const pb::HardState* hard_state, const std::vector<pb::Entry>& entries, bool sync) override;
  Status save_snapshot(const pb::SnapshotMetadata& snapshot) override;
  Status compact(Index through) override;
  Result<std::vector<pb::Entry>> read_entries(Index first, Index last) override;

  const std::string& directory() const { return directory_; }

 private:
  RocksDbStorage(std::string directory, std::unique_ptr<rocksdb::DB> db,
                 std::vector<rocksdb::ColumnFamilyHandle*> handles);
  Status check_identity(StorageIdentity identity);
  Error fault(const std::string& what) const;
  // Reads a record of the meta column family into `message`; false when absent.
  Result<bool> read_meta(const char* key, google::protobuf::MessageLite& message, const char* what);
  Result<Term> stored_term(Index index);
  // A log record's entry, checked: its checksum, and that it is `index`.
  Result<pb::Entry> decode_entry(Index index, std::string_view record) const;
  // The log records from the iterator's position to its end, which must be
  // the indexes `expected`, `expected` + 1, ... in turn, each checked.
  Result<std::vector<pb::Entry>> read_run(rocksdb::Iterator& it, Index expected) const;
  Status write(rocksdb::WriteBatch& batch, bool sync);

  std::string directory_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // released before db_
  rocksdb::ColumnFamilyHandle* log_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  // The log's extent on disk: the entries after base_ up to last_index_.
  // Known after load().
  pb::LogBase base_;
  Index last_index_ = 0;
  Index snapshot_index_ = 0;
  bool loaded_ = false;
};

}  // namespace raft
