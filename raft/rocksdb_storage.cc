#include "raft/rocksdb_storage.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <optional>
#include <string_view>
#include <tuple>

#include "proto/raft_storage.pb.h"
#include "raft/rocksdb_directory.h"
#include "raft/rocksdb_logger.h"
#include "raft/storage_record.h"

namespace raft {

using storage_record::log_key;

namespace {

constexpr char kFormatVersionKey[] = "format_version";
constexpr char kIdentityKey[] = "identity";
constexpr char kHardStateKey[] = "hard_state";
constexpr char kSnapshotKey[] = "snapshot";
constexpr char kLogBaseKey[] = "log_base";

std::string_view view(const rocksdb::Slice& slice) {
  return {slice.data(), slice.size()};
}

}  // namespace

Error RocksDbStorage::fault(const std::string& what) const {
  return Error{ErrorCode::kStorage, "data directory " + directory_ + ": " + what};
}

Result<std::unique_ptr<RocksDbStorage>> RocksDbStorage::open(const std::string& directory,
                                                             StorageIdentity identity,
                                                             std::shared_ptr<RocksDbMemory> memory) {
  auto refuse = [&](const std::string& what) {
    return Error{ErrorCode::kStorage, "data directory " + directory + ": " + what};
  };
  if (identity.cluster_id == 0 || identity.node_id == kNoNode) {
    return Error{ErrorCode::kInvalidArgument, "cluster id and node id must be positive"};
  }
  if (Status prepared = prepare_rocksdb_directory("data directory", directory); !prepared.ok()) {
    return prepared.error();
  }

  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.paranoid_checks = true;
  // After a crash the WAL may end in a torn, unsynced batch: recover up to
  // the last complete one (everything synced is before it).
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  options.info_log = rocksdb_logger("raft log in " + directory);
  // The log is written once, read rarely and deleted soon (compaction, §7):
  // small write buffers flush it often, so that RocksDB's own compaction
  // soon meets the range deletions and drops what they cover. With the
  // default 64 MiB buffers a node's directory grew by the whole log between
  // RocksDB compactions. The WAL is capped to match.
  options.max_total_wal_size = 64 << 20;
  rocksdb::ColumnFamilyOptions small_options(options);  // the metadata: a few records
  rocksdb::ColumnFamilyOptions log_options(options);
  log_options.write_buffer_size = 8 << 20;
  log_options.level0_file_num_compaction_trigger = 2;
  if (memory) {
    memory->apply(static_cast<rocksdb::DBOptions&>(options));
    memory->apply(small_options, 1 << 20);
    memory->apply(log_options, 8 << 20);
  }
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, small_options},
      {kLogColumnFamily, log_options},
      {kMetaColumnFamily, small_options},
  };
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened = rocksdb::DB::Open(options, directory, families, &handles, &raw);
  if (!opened.ok()) return refuse("cannot open RocksDB: " + opened.ToString());
  std::unique_ptr<RocksDbStorage> storage(
      new RocksDbStorage(directory, std::unique_ptr<rocksdb::DB>(raw), std::move(handles)));
  if (Status checked = storage->check_identity(identity); !checked.ok()) return checked.error();
  return storage;
}

RocksDbStorage::RocksDbStorage(std::string directory, std::unique_ptr<rocksdb::DB> db,
                               std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : directory_(std::move(directory)), db_(std::move(db)), handles_(std::move(handles)) {
  log_ = handles_.at(1);
  meta_ = handles_.at(2);
}

RocksDbStorage::~RocksDbStorage() {
  for (rocksdb::ColumnFamilyHandle* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
}

Status RocksDbStorage::check_identity(StorageIdentity identity) {
  std::string version_value;
  const rocksdb::Status found = db_->Get(rocksdb::ReadOptions(), meta_, kFormatVersionKey, &version_value);
  if (found.IsNotFound()) {
    // A new directory: stamp it before anything else is written.
    pb::StorageIdentity stamp;
    stamp.set_cluster_id(identity.cluster_id);
    stamp.set_node_id(identity.node_id);
    rocksdb::WriteBatch batch;
    batch.Put(meta_, kFormatVersionKey, storage_record::seal(storage_record::big_endian(kFormatVersion, 4)));
    batch.Put(meta_, kIdentityKey, storage_record::seal(stamp.SerializeAsString()));
    rocksdb::WriteOptions sync;
    sync.sync = true;
    const rocksdb::Status written = db_->Write(sync, &batch);
    if (!written.ok()) return fault("cannot initialise: " + written.ToString());
    return {};
  }
  if (!found.ok()) return fault("cannot read the format version: " + found.ToString());
  const std::optional<std::string_view> version_payload = storage_record::open(version_value);
  const std::optional<std::uint64_t> version =
      version_payload ? storage_record::from_big_endian(*version_payload, 4) : std::nullopt;
  if (!version) return fault("format version record is corrupt");
  if (*version > kFormatVersion) {
    return fault("written in format version " + std::to_string(*version) + "; this build reads up to " +
                 std::to_string(kFormatVersion) + " (a newer raftkv made it)");
  }

  std::string identity_value;
  const rocksdb::Status read = db_->Get(rocksdb::ReadOptions(), meta_, kIdentityKey, &identity_value);
  if (!read.ok()) return fault("identity record is missing: " + read.ToString());
  const std::optional<std::string_view> identity_payload = storage_record::open(identity_value);
  pb::StorageIdentity stamp;
  if (!identity_payload ||
      !stamp.ParseFromArray(identity_payload->data(), static_cast<int>(identity_payload->size()))) {
    return fault("identity record is corrupt");
  }
  if (stamp.cluster_id() != identity.cluster_id) {
    return fault("belongs to cluster " + std::to_string(stamp.cluster_id()) + ", not cluster " +
                 std::to_string(identity.cluster_id));
  }
  if (stamp.node_id() != identity.node_id) {
    return fault("belongs to node " + std::to_string(stamp.node_id()) + ", not node " +
                 std::to_string(identity.node_id));
  }
  return {};
}

Result<bool> RocksDbStorage::read_meta(const char* key, google::protobuf::MessageLite& message,
                                       const char* what) {
  std::string value;
  const rocksdb::Status found = db_->Get(rocksdb::ReadOptions(), meta_, key, &value);
  if (found.IsNotFound()) return false;
  if (!found.ok()) return fault(std::string("cannot read the ") + what + ": " + found.ToString());
  const std::optional<std::string_view> payload = storage_record::open(value);
  if (!payload || !message.ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
    return fault(std::string(what) + " record is corrupt");
  }
  return true;
}

Result<PersistentState> RocksDbStorage::load() {
  PersistentState state;
  for (auto [key, message, what] : {std::tuple<const char*, google::protobuf::MessageLite*, const char*>{
                                        kHardStateKey, &state.hard_state, "hard state"},
                                    {kSnapshotKey, &state.snapshot, "snapshot metadata"},
                                    {kLogBaseKey, &state.log_base, "log base"}}) {
    if (Result<bool> read = read_meta(key, *message, what); !read.ok()) return read.error();
  }

  rocksdb::ReadOptions scan;
  scan.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(scan, log_));
  it->SeekToFirst();
  Result<std::vector<pb::Entry>> entries = read_run(*it, state.log_base.index() + 1);
  if (!entries.ok()) return entries.error();
  state.entries = std::move(entries).value();
  const Index last = state.log_base.index() + state.entries.size();
  if (state.snapshot.index() < state.log_base.index() || state.snapshot.index() > last) {
    return fault("snapshot at index " + std::to_string(state.snapshot.index()) +
                 " does not fit the log, which holds entries " + std::to_string(state.log_base.index() + 1) +
                 " to " + std::to_string(last));
  }
  if (state.hard_state.commit() > last) {
    return fault("hard state commits index " + std::to_string(state.hard_state.commit()) +
                 " but the log ends at " + std::to_string(last));
  }
  base_ = state.log_base;
  last_index_ = last;
  snapshot_index_ = state.snapshot.index();
  loaded_ = true;
  return state;
}

Status RocksDbStorage::write(rocksdb::WriteBatch& batch, bool sync) {
  rocksdb::WriteOptions options;
  options.sync = sync;
  const rocksdb::Status written = db_->Write(options, &batch);
  if (!written.ok()) return fault("write failed: " + written.ToString());
  return {};
}

Status RocksDbStorage::save(const pb::HardState* hard_state, const std::vector<pb::Entry>& entries,
                            bool sync) {
  if (!loaded_) return Error{ErrorCode::kStorage, "RocksDbStorage::save before load"};
  rocksdb::WriteBatch batch;
  Index last = last_index_;
  if (!entries.empty()) {
    const Index first = entries.front().index();
    if (first <= base_.index() || first > last_index_ + 1) {
      return fault("entries at " + std::to_string(first) + " do not continue the log " +
                   std::to_string(base_.index() + 1) + ".." + std::to_string(last_index_));
    }
    // Replace the stored suffix: drop what the new entries overwrite or
    // leave behind, in the same atomic batch as the new entries.
    if (first <= last_index_) batch.DeleteRange(log_, log_key(first), log_key(last_index_ + 1));
    for (const pb::Entry& entry : entries)
      batch.Put(log_, log_key(entry.index()), storage_record::seal(entry.SerializeAsString()));
    last = entries.back().index();
  }
  if (hard_state != nullptr)
    batch.Put(meta_, kHardStateKey, storage_record::seal(hard_state->SerializeAsString()));
  if (Status written = write(batch, sync); !written.ok()) return written;
  last_index_ = last;
  return {};
}

Result<Term> RocksDbStorage::stored_term(Index index) {
  if (index == base_.index()) return base_.term();
  std::string value;
  const rocksdb::Status found = db_->Get(rocksdb::ReadOptions(), log_, log_key(index), &value);
  if (!found.ok()) return fault("cannot read log index " + std::to_string(index) + ": " + found.ToString());
  Result<pb::Entry> entry = decode_entry(index, value);
  if (!entry.ok()) return entry.error();
  return entry.value().term();
}

Result<pb::Entry> RocksDbStorage::decode_entry(Index index, std::string_view record) const {
  const std::optional<std::string_view> payload = storage_record::open(record);
  pb::Entry entry;
  if (!payload || !entry.ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
    return fault("log record at index " + std::to_string(index) + " is corrupt (checksum mismatch)");
  }
  if (entry.index() != index) {
    return fault("log record at index " + std::to_string(index) + " claims index " +
                 std::to_string(entry.index()));
  }
  return entry;
}

Result<std::vector<pb::Entry>> RocksDbStorage::read_entries(Index first, Index last) {
  if (!loaded_) return Error{ErrorCode::kStorage, "RocksDbStorage::read_entries before load"};
  if (first > last || first <= base_.index() || last > last_index_) {
    return fault("entries " + std::to_string(first) + ".." + std::to_string(last) +
                 " are not stored (the log holds " + std::to_string(base_.index() + 1) + ".." +
                 std::to_string(last_index_) + ")");
  }
  rocksdb::ReadOptions scan;
  scan.verify_checksums = true;
  const std::string end_key = log_key(last + 1);
  const rocksdb::Slice end(end_key);
  scan.iterate_upper_bound = &end;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(scan, log_));
  it->Seek(log_key(first));
  Result<std::vector<pb::Entry>> entries = read_run(*it, first);
  if (entries.ok() && entries.value().size() != last - first + 1) {
    return fault("log index " + std::to_string(first + entries.value().size()) + " is missing");
  }
  return entries;
}

Result<std::vector<pb::Entry>> RocksDbStorage::read_run(rocksdb::Iterator& it, Index expected) const {
  std::vector<pb::Entry> entries;
  for (; it.Valid(); it.Next()) {
    const std::optional<Index> index = storage_record::index_of_key(view(it.key()));
    if (!index)
      return fault("log holds a key of " + std::to_string(it.key().size()) + " bytes, not an index");
    if (*index != expected) {
      return fault(entries.empty() ? "log starts at index " + std::to_string(*index) + ", expected " +
                                         std::to_string(expected)
                                   : "log has a gap: index " + std::to_string(expected) +
                                         " is missing before " + std::to_string(*index));
    }
    Result<pb::Entry> entry = decode_entry(*index, view(it.value()));
    if (!entry.ok()) return entry.error();
    entries.push_back(std::move(entry).value());
    expected = *index + 1;
  }
  if (!it.status().ok()) return fault("cannot read the log: " + it.status().ToString());
  return entries;
}

Status RocksDbStorage::save_snapshot(const pb::SnapshotMetadata& snapshot) {
  if (!loaded_) return Error{ErrorCode::kStorage, "RocksDbStorage::save_snapshot before load"};
  const Index index = snapshot.index();
  bool log_holds_it = false;
  if (index >= base_.index() && index <= last_index_) {
    Result<Term> term = stored_term(index);
    if (!term.ok()) return term.error();
    log_holds_it = term.value() == snapshot.term();
  }
  rocksdb::WriteBatch batch;
  pb::LogBase base = base_;
  Index last = last_index_;
  if (!log_holds_it) {
    base.set_index(index);
    base.set_term(snapshot.term());
    last = index;
    if (last_index_ > base_.index()) {
      batch.DeleteRange(log_, log_key(base_.index() + 1), log_key(last_index_ + 1));
    }
    batch.Put(meta_, kLogBaseKey, storage_record::seal(base.SerializeAsString()));
  }
  batch.Put(meta_, kSnapshotKey, storage_record::seal(snapshot.SerializeAsString()));
  if (Status written = write(batch, true); !written.ok()) return written;
  base_ = base;
  last_index_ = last;
  snapshot_index_ = index;
  return {};
}

Status RocksDbStorage::compact(Index through) {
  if (!loaded_) return Error{ErrorCode::kStorage, "RocksDbStorage::compact before load"};
  if (through <= base_.index()) return {};
  if (through > snapshot_index_ || through > last_index_) {
    return fault("cannot compact through " + std::to_string(through) + ": the snapshot is at " +
                 std::to_string(snapshot_index_) + " and the log ends at " + std::to_string(last_index_));
  }
  Result<Term> term = stored_term(through);
  if (!term.ok()) return term.error();
  pb::LogBase base;
  base.set_index(through);
  base.set_term(term.value());
  rocksdb::WriteBatch batch;
  batch.DeleteRange(log_, log_key(base_.index() + 1), log_key(through + 1));
  batch.Put(meta_, kLogBaseKey, storage_record::seal(base.SerializeAsString()));
  if (Status written = write(batch, false); !written.ok()) return written;
  base_ = base;
  return {};
}

}  // namespace raft
