#include "raft/rocksdb_storage.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <optional>
#include <string_view>

#include "proto/raft_storage.pb.h"
#include "raft/storage_record.h"

namespace raft {

using storage_record::log_key;

namespace {

constexpr char kFormatVersionKey[] = "format_version";
constexpr char kIdentityKey[] = "identity";
constexpr char kHardStateKey[] = "hard_state";

std::string_view view(const rocksdb::Slice& slice) {
  return {slice.data(), slice.size()};
}

}  // namespace

Error RocksDbStorage::fault(const std::string& what) const {
  return Error{ErrorCode::kStorage, "data directory " + directory_ + ": " + what};
}

Result<std::unique_ptr<RocksDbStorage>> RocksDbStorage::open(const std::string& directory,
                                                             StorageIdentity identity) {
  auto refuse = [&](const std::string& what) {
    return Error{ErrorCode::kStorage, "data directory " + directory + ": " + what};
  };
  if (identity.cluster_id == 0 || identity.node_id == kNoNode) {
    return Error{ErrorCode::kInvalidArgument, "cluster id and node id must be positive"};
  }
  std::error_code error;
  const std::filesystem::path path(directory);
  if (std::filesystem::exists(path, error)) {
    if (!std::filesystem::is_directory(path, error)) return refuse("exists and is not a directory");
    const bool empty = std::filesystem::is_empty(path, error);
    if (!empty && !std::filesystem::exists(path / "CURRENT", error)) {
      return refuse("is not empty and holds no RocksDB database (no CURRENT file); refusing to touch it");
    }
  } else if (!std::filesystem::create_directories(path, error) && error) {
    return refuse("cannot be created: " + error.message());
  }

  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.paranoid_checks = true;
  // After a crash the WAL may end in a torn, unsynced batch: recover up to
  // the last complete one (everything synced is before it).
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(options)},
      {kLogColumnFamily, rocksdb::ColumnFamilyOptions(options)},
      {kMetaColumnFamily, rocksdb::ColumnFamilyOptions(options)},
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

Result<PersistentState> RocksDbStorage::load() {
  PersistentState state;
  std::string hard_state_value;
  const rocksdb::Status found = db_->Get(rocksdb::ReadOptions(), meta_, kHardStateKey, &hard_state_value);
  if (found.ok()) {
    const std::optional<std::string_view> payload = storage_record::open(hard_state_value);
    if (!payload || !state.hard_state.ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
      return fault("hard state record is corrupt");
    }
  } else if (!found.IsNotFound()) {
    return fault("cannot read the hard state: " + found.ToString());
  }

  rocksdb::ReadOptions scan;
  scan.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(scan, log_));
  Index expected = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::optional<Index> index = storage_record::index_of_key(view(it->key()));
    if (!index)
      return fault("log holds a key of " + std::to_string(it->key().size()) + " bytes, not an index");
    if (expected != 0 && *index != expected) {
      return fault("log has a gap: index " + std::to_string(expected) + " is missing before " +
                   std::to_string(*index));
    }
    const std::optional<std::string_view> payload = storage_record::open(view(it->value()));
    pb::Entry entry;
    if (!payload || !entry.ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
      return fault("log record at index " + std::to_string(*index) + " is corrupt (checksum mismatch)");
    }
    if (entry.index() != *index) {
      return fault("log record at index " + std::to_string(*index) + " claims index " +
                   std::to_string(entry.index()));
    }
    state.entries.push_back(std::move(entry));
    expected = *index + 1;
  }
  if (!it->status().ok()) return fault("cannot read the log: " + it->status().ToString());
  if (!state.entries.empty() && state.entries.front().index() != 1) {
    // Until snapshots exist (issue 3), the log starts at index 1.
    return fault("log starts at index " + std::to_string(state.entries.front().index()) + ", not 1");
  }
  if (state.hard_state.commit() > state.entries.size()) {
    return fault("hard state commits index " + std::to_string(state.hard_state.commit()) +
                 " but the log ends at " + std::to_string(state.entries.size()));
  }
  first_index_ = 1;
  last_index_ = state.entries.size();
  loaded_ = true;
  return state;
}

Status RocksDbStorage::save(const pb::HardState* hard_state, const std::vector<pb::Entry>& entries,
                            bool sync) {
  if (!loaded_) return Error{ErrorCode::kStorage, "RocksDbStorage::save before load"};
  rocksdb::WriteBatch batch;
  Index last = last_index_;
  if (!entries.empty()) {
    const Index first = entries.front().index();
    if (first < first_index_ || first > last_index_ + 1) {
      return fault("entries at " + std::to_string(first) + " would leave a gap after index " +
                   std::to_string(last_index_));
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
  rocksdb::WriteOptions options;
  options.sync = sync;
  const rocksdb::Status written = db_->Write(options, &batch);
  if (!written.ok()) return fault("write failed: " + written.ToString());
  last_index_ = last;
  return {};
}

}  // namespace raft
