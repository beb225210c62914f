#include "kvstore/store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <map>
#include <mutex>

#include "kvstore/store_keys.h"
#include "kvstore/unlogged_write.h"
#include "raft/rocksdb_directory.h"
#include "raft/rocksdb_logger.h"
#include "raft/storage_record.h"

namespace kv {

using raft::Error;
using raft::ErrorCode;
using raft::Index;
using raft::Result;
using raft::Status;
namespace record = raft::storage_record;

namespace {

constexpr char kFormatVersionKey[] = "format_version";
constexpr char kActiveKey[] = "active";
constexpr std::string_view kGenerationPrefix = "kv.";
constexpr std::size_t kSnapshotBlockBytes = 1 << 20;

std::string generation_name(std::uint64_t generation) {
  return std::string(kGenerationPrefix) + std::to_string(generation);
}

// Every column family of the store, generations included, is opened and
// created with these: RocksDB's defaults, or a share of the process's
// memory budget.
rocksdb::ColumnFamilyOptions family_options(const raft::RocksDbMemory* memory) {
  rocksdb::ColumnFamilyOptions options;
  if (memory != nullptr) memory->apply(options, 64 << 20);
  return options;
}

bool is_empty(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* family) {
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator({}, family));
  it->SeekToFirst();
  return !it->Valid() && it->status().ok();
}

// Makes everything written to `family` so far durable.
rocksdb::Status flush(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* family) {
  rocksdb::FlushOptions options;
  options.wait = true;
  options.allow_write_stall = true;
  return db.Flush(options, family);
}

void append_length_prefixed(std::string& out, std::string_view bytes) {
  out += record::big_endian(bytes.size(), 4);
  out.append(bytes);
}

// Reads one length-prefixed field from `in` at `offset`; nullopt if cut off.
std::optional<std::string_view> read_length_prefixed(std::string_view in, std::size_t& offset) {
  if (in.size() - offset < 4) return std::nullopt;
  const std::uint64_t length = *record::from_big_endian(in.substr(offset, 4), 4);
  offset += 4;
  if (in.size() - offset < length) return std::nullopt;
  const std::string_view field = in.substr(offset, length);
  offset += length;
  return field;
}

// A frozen read view of one generation: a RocksDB snapshot and the applied
// index it holds. Written out as blocks of (key, StoredValue) pairs.
class StoreView final : public raft::StateMachineView {
 public:
  StoreView(rocksdb::DB* db, std::shared_ptr<rocksdb::ColumnFamilyHandle> family, Index index,
            const rocksdb::Snapshot* snapshot)
      : db_(db), family_(std::move(family)), index_(index), snapshot_(snapshot) {}
  ~StoreView() override { db_->ReleaseSnapshot(snapshot_); }

  Index index() const override { return index_; }

  Status write(raft::SnapshotSink& sink) override {
    rocksdb::ReadOptions options;
    options.snapshot = snapshot_;
    options.verify_checksums = true;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, family_.get()));
    std::string block;
    // Everything but the applied index, which a restore sets itself: the
    // data, the sessions and the cluster time.
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key() == keys::kApplied) continue;
      const std::optional<std::string_view> value = record::open({it->value().data(), it->value().size()});
      if (!value) {
        return Error{ErrorCode::kStorage, "key-value record is corrupt: " + it->key().ToString(true)};
      }
      append_length_prefixed(block, {it->key().data(), it->key().size()});
      append_length_prefixed(block, *value);
      if (block.size() >= kSnapshotBlockBytes) {
        if (Status written = sink.write(block); !written.ok()) return written;
        block.clear();
      }
    }
    if (!it->status().ok())
      return Error{ErrorCode::kStorage, "cannot read the store: " + it->status().ToString()};
    if (!block.empty()) return sink.write(block);
    return {};
  }

 private:
  rocksdb::DB* db_;
  std::shared_ptr<rocksdb::ColumnFamilyHandle> family_;
  Index index_;
  const rocksdb::Snapshot* snapshot_;
};

}  // namespace

Error Store::fault(const std::string& what) const {
  return Error{ErrorCode::kStorage, "key-value store " + directory_ + ": " + what};
}

Store::Store(std::string directory, std::unique_ptr<rocksdb::DB> db,
             std::shared_ptr<raft::RocksDbMemory> memory)
    : directory_(std::move(directory)), db_(std::move(db)), memory_(std::move(memory)) {}

Store::~Store() {
  active_.reset();
  if (default_ != nullptr) db_->DestroyColumnFamilyHandle(default_);
}

std::shared_ptr<rocksdb::ColumnFamilyHandle> Store::share(rocksdb::ColumnFamilyHandle* handle) {
  rocksdb::DB* db = db_.get();
  return std::shared_ptr<rocksdb::ColumnFamilyHandle>(
      handle, [db](rocksdb::ColumnFamilyHandle* owned) { db->DestroyColumnFamilyHandle(owned); });
}

std::shared_ptr<rocksdb::ColumnFamilyHandle> Store::active() const {
  std::shared_lock lock(active_mutex_);
  return active_;
}

std::uint64_t Store::generation() const {
  std::shared_lock lock(active_mutex_);
  return generation_;
}

Result<std::unique_ptr<Store>> Store::open(const std::string& directory,
                                           std::shared_ptr<raft::RocksDbMemory> memory) {
  auto refuse = [&](const std::string& what) {
    return Error{ErrorCode::kStorage, "key-value store " + directory + ": " + what};
  };
  if (Status prepared = raft::prepare_rocksdb_directory("key-value store", directory); !prepared.ok()) {
    return prepared.error();
  }

  rocksdb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  // No write-ahead log (every write skips it; see unlogged_write.h): what
  // is durable is what RocksDB flushed. A family's flushes keep the order
  // of its writes, and the applied index travels in the same family as the
  // data, so a flushed generation is always the state after one applied
  // index. (Not atomic_flush: Debian's RocksDB 7.8 aborts on an assertion
  // when a manual atomic flush meets one the memory budget started.)
  // Closing flushes what is left.
  options.avoid_flush_during_shutdown = false;
  options.info_log = raft::rocksdb_logger("key-value store in " + directory);
  if (memory) memory->apply(static_cast<rocksdb::DBOptions&>(options));
  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(options, directory, &names).ok()) {
    names = {rocksdb::kDefaultColumnFamilyName};  // a new database
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) families.emplace_back(name, family_options(memory.get()));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened = rocksdb::DB::Open(options, directory, families, &handles, &raw);
  if (!opened.ok()) return refuse("cannot open RocksDB: " + opened.ToString());
  std::unique_ptr<Store> store(new Store(directory, std::unique_ptr<rocksdb::DB>(raw), memory));
  std::map<std::string, rocksdb::ColumnFamilyHandle*> by_name;
  for (std::size_t i = 0; i < names.size(); ++i) by_name[names[i]] = handles[i];
  store->default_ = by_name.at(rocksdb::kDefaultColumnFamilyName);
  by_name.erase(rocksdb::kDefaultColumnFamilyName);
  rocksdb::DB& db = *store->db_;

  std::string value;
  const rocksdb::Status version = db.Get({}, store->default_, kFormatVersionKey, &value);
  if (version.IsNotFound()) {
    // A new store, or one whose creation a crash cut short: that left at
    // most an empty first generation (nothing is applied before the stamp
    // below is durable), which is made again.
    const bool unfinished_creation =
        by_name.empty() || (by_name.size() == 1 && by_name.contains(generation_name(1)) &&
                            is_empty(db, by_name.begin()->second));
    if (!unfinished_creation) {
      for (auto& [name, handle] : by_name) db.DestroyColumnFamilyHandle(handle);
      return store->fault("has key-value data but no format version");
    }
    for (auto& [name, handle] : by_name) {
      const rocksdb::Status dropped = db.DropColumnFamily(handle);
      db.DestroyColumnFamilyHandle(handle);
      if (!dropped.ok())
        return store->fault("cannot drop an unfinished first generation: " + dropped.ToString());
    }
    by_name.clear();
    // Generation 1, stamped before anything else is written.
    rocksdb::ColumnFamilyHandle* first = nullptr;
    const rocksdb::Status created =
        db.CreateColumnFamily(family_options(memory.get()), generation_name(1), &first);
    if (!created.ok()) return store->fault("cannot create its first generation: " + created.ToString());
    by_name[generation_name(1)] = first;
    rocksdb::WriteBatch batch;
    batch.Put(store->default_, kFormatVersionKey, record::seal(record::big_endian(kFormatVersion, 4)));
    batch.Put(store->default_, kActiveKey, record::seal(record::big_endian(1, 8)));
    rocksdb::Status written = db.Write(unlogged(), &batch);
    if (written.ok()) written = flush(db, store->default_);
    if (!written.ok()) {
      for (auto& [name, handle] : by_name) db.DestroyColumnFamilyHandle(handle);
      return store->fault("cannot initialise: " + written.ToString());
    }
  } else {
    const std::optional<std::string_view> payload = version.ok() ? record::open(value) : std::nullopt;
    const std::optional<std::uint64_t> number = payload ? record::from_big_endian(*payload, 4) : std::nullopt;
    if (!number) {
      for (auto& [name, handle] : by_name) db.DestroyColumnFamilyHandle(handle);
      return store->fault("format version record is corrupt");
    }
    if (*number > kFormatVersion) {
      for (auto& [name, handle] : by_name) db.DestroyColumnFamilyHandle(handle);
      return store->fault("written in format version " + std::to_string(*number) +
                          "; this build reads up to " + std::to_string(kFormatVersion));
    }
  }

  const rocksdb::Status active = db.Get({}, store->default_, kActiveKey, &value);
  const std::optional<std::string_view> active_payload = active.ok() ? record::open(value) : std::nullopt;
  const std::optional<std::uint64_t> generation =
      active_payload ? record::from_big_endian(*active_payload, 8) : std::nullopt;
  if (!generation || !by_name.contains(generation_name(*generation))) {
    for (auto& [name, handle] : by_name) db.DestroyColumnFamilyHandle(handle);
    return store->fault("the record of its active generation is missing or corrupt");
  }
  // Generations other than the active one were being restored when the
  // process died: they are incomplete by definition.
  for (auto& [name, handle] : by_name) {
    if (name == generation_name(*generation)) continue;
    const rocksdb::Status dropped =
        name.starts_with(kGenerationPrefix) ? db.DropColumnFamily(handle) : rocksdb::Status::OK();
    db.DestroyColumnFamilyHandle(handle);
    if (!dropped.ok())
      return store->fault("cannot drop the unfinished restore " + name + ": " + dropped.ToString());
  }
  store->generation_ = *generation;
  store->active_ = store->share(by_name.at(generation_name(*generation)));

  const rocksdb::Status applied = db.Get({}, store->active_.get(), keys::kApplied, &value);
  if (applied.ok()) {
    const std::optional<std::string_view> payload = record::open(value);
    const std::optional<std::uint64_t> index = payload ? record::from_big_endian(*payload, 8) : std::nullopt;
    if (!index) return store->fault("applied index record is corrupt");
    store->applied_ = *index;
  } else if (!applied.IsNotFound()) {
    return store->fault("cannot read the applied index: " + applied.ToString());
  }
  if (Status loaded = store->load_sessions(store->active_.get()); !loaded.ok()) return loaded.error();
  return store;
}

Index Store::applied_index() const {
  return applied_;
}

Result<std::optional<pb::StoredValue>> Store::read_value(rocksdb::ColumnFamilyHandle* family,
                                                         const std::string& key) const {
  std::string value;
  const rocksdb::Status found = db_->Get({}, family, key, &value);
  if (found.IsNotFound()) return std::optional<pb::StoredValue>();
  if (!found.ok()) return fault("cannot read: " + found.ToString());
  const std::optional<std::string_view> payload = record::open(value);
  pb::StoredValue stored;
  if (!payload || !stored.ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
    return fault("the record of key " + rocksdb::Slice(key.substr(1)).ToString(true) + " is corrupt");
  }
  return std::optional<pb::StoredValue>(std::move(stored));
}

Result<std::optional<pb::StoredValue>> Store::get(std::string_view key) const {
  const std::shared_ptr<rocksdb::ColumnFamilyHandle> family = active();
  return read_value(family.get(), keys::data(key));
}

Result<std::vector<std::pair<std::string, pb::StoredValue>>> Store::all() const {
  const std::shared_ptr<rocksdb::ColumnFamilyHandle> family = active();
  std::vector<std::pair<std::string, pb::StoredValue>> result;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, family.get()));
  const std::string prefix(1, keys::kDataPrefix);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::optional<std::string_view> payload = record::open({it->value().data(), it->value().size()});
    pb::StoredValue stored;
    if (!payload || !stored.ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
      return fault("the record of key " + it->key().ToString(true) + " is corrupt");
    }
    result.emplace_back(it->key().ToString().substr(1), std::move(stored));
  }
  if (!it->status().ok()) return fault("cannot read: " + it->status().ToString());
  return result;
}

std::unique_ptr<raft::StateMachineView> Store::view() {
  std::shared_ptr<rocksdb::ColumnFamilyHandle> family = active();
  // Called on the apply thread, so nothing is applied between these two.
  return std::make_unique<StoreView>(db_.get(), std::move(family), applied_, db_->GetSnapshot());
}

raft::Result<std::unique_ptr<raft::StateMachineView>> Store::consistent_view() const {
  std::shared_ptr<rocksdb::ColumnFamilyHandle> family = active();
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  rocksdb::ReadOptions options;
  options.snapshot = snapshot;
  std::string value;
  Index index = 0;
  const rocksdb::Status read = db_->Get(options, family.get(), keys::kApplied, &value);
  if (read.ok()) {
    const std::optional<std::string_view> payload = record::open(value);
    const std::optional<std::uint64_t> stored = payload ? record::from_big_endian(*payload, 8) : std::nullopt;
    if (!stored) {
      db_->ReleaseSnapshot(snapshot);
      return Error{ErrorCode::kStorage, "applied index record is corrupt"};
    }
    index = *stored;
  } else if (!read.IsNotFound()) {
    db_->ReleaseSnapshot(snapshot);
    return Error{ErrorCode::kStorage, "cannot read the applied index: " + read.ToString()};
  }
  return std::unique_ptr<raft::StateMachineView>(
      std::make_unique<StoreView>(db_.get(), std::move(family), index, snapshot));
}

Status Store::restore(Index index, raft::SnapshotSource& source) {
  const std::uint64_t next = generation() + 1;
  rocksdb::ColumnFamilyHandle* raw = nullptr;
  const rocksdb::Status created =
      db_->CreateColumnFamily(family_options(memory_.get()), generation_name(next), &raw);
  if (!created.ok())
    return fault("cannot create generation " + std::to_string(next) + ": " + created.ToString());
  std::shared_ptr<rocksdb::ColumnFamilyHandle> family = share(raw);
  auto abandon = [&](const Error& error) -> Status {
    (void)db_->DropColumnFamily(family.get());
    return error;
  };
  std::string block;
  while (true) {
    Result<bool> more = source.next(block);
    if (!more.ok()) return abandon(more.error());
    if (!more.value()) break;
    rocksdb::WriteBatch batch;
    for (std::size_t offset = 0; offset < block.size();) {
      const std::optional<std::string_view> key = read_length_prefixed(block, offset);
      const std::optional<std::string_view> value = key ? read_length_prefixed(block, offset) : std::nullopt;
      if (!value || !keys::known(*key) || *key == keys::kApplied) {
        return abandon(fault("snapshot for index " + std::to_string(index) + " holds a malformed pair"));
      }
      batch.Put(family.get(), rocksdb::Slice(key->data(), key->size()), record::seal(*value));
    }
    if (const rocksdb::Status written = db_->Write(unlogged(), &batch); !written.ok()) {
      return abandon(fault("cannot write the restored state: " + written.ToString()));
    }
  }
  rocksdb::WriteBatch applied;
  applied.Put(family.get(), keys::kApplied, record::seal(record::big_endian(index, 8)));
  if (const rocksdb::Status written = db_->Write(unlogged(), &applied); !written.ok()) {
    return abandon(fault("cannot write the restored state: " + written.ToString()));
  }
  // The new generation is made durable first, then the switch to it: a
  // crash before the switch is durable leaves the old generation active,
  // and the next open drops the new one, whole or in part.
  if (const rocksdb::Status flushed = flush(*db_, family.get()); !flushed.ok()) {
    return abandon(fault("cannot write the restored state: " + flushed.ToString()));
  }
  rocksdb::WriteBatch activate;
  activate.Put(default_, kActiveKey, record::seal(record::big_endian(next, 8)));
  rocksdb::Status activated = db_->Write(unlogged(), &activate);
  if (activated.ok()) activated = flush(*db_, default_);
  if (!activated.ok()) {
    // Name the old generation again before the new one goes, so that no
    // later flush (closing flushes) can make a switch to it durable.
    rocksdb::WriteBatch back;
    back.Put(default_, kActiveKey, record::seal(record::big_endian(generation(), 8)));
    (void)db_->Write(unlogged(), &back);
    return abandon(fault("cannot activate the restored state: " + activated.ToString()));
  }
  std::shared_ptr<rocksdb::ColumnFamilyHandle> previous;
  {
    std::unique_lock lock(active_mutex_);
    previous = std::move(active_);
    active_ = std::move(family);
    generation_ = next;
  }
  applied_ = index;
  if (Status loaded = load_sessions(active().get()); !loaded.ok()) return loaded;
  // Views still reading the old generation keep its handle alive; RocksDB
  // deletes its files once the last handle is gone.
  if (const rocksdb::Status dropped = db_->DropColumnFamily(previous.get()); !dropped.ok()) {
    return fault("restored, but cannot drop the previous generation: " + dropped.ToString());
  }
  return {};
}

}  // namespace kv
