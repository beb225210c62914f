// kv::Store: reads. A range is read from one RocksDB snapshot, so its keys
// and the revision it reports belong to one applied index, even while the
// apply thread writes.

#include <rocksdb/db.h>

#include "kvstore/store.h"
#include "kvstore/store_keys.h"
#include "raft/fnv1a.h"

namespace kv {

using raft::Result;
namespace api = raftkv::api;
namespace record = raft::storage_record;

namespace {

// Read options on a RocksDB snapshot taken now and released at the end of
// the scope, so that a whole read sees one applied index.
class ReadView {
 public:
  explicit ReadView(rocksdb::DB& db) : db_(db), snapshot_(db.GetSnapshot()) { options_.snapshot = snapshot_; }
  ~ReadView() { db_.ReleaseSnapshot(snapshot_); }
  ReadView(const ReadView&) = delete;
  ReadView& operator=(const ReadView&) = delete;

  const rocksdb::ReadOptions& options() const { return options_; }

 private:
  rocksdb::DB& db_;
  const rocksdb::Snapshot* snapshot_;
  rocksdb::ReadOptions options_;
};

}  // namespace

Result<api::RangeResponse> Store::range(const api::RangeRequest& request) const {
  const std::shared_ptr<rocksdb::ColumnFamilyHandle> family = active();
  const ReadView view(*db_);
  const rocksdb::ReadOptions& options = view.options();

  api::RangeResponse response;
  std::string value;
  const rocksdb::Status applied = db_->Get(options, family.get(), keys::kApplied, &value);
  if (applied.ok()) {
    const std::optional<std::string_view> payload = record::open(value);
    const std::optional<std::uint64_t> index = payload ? record::from_big_endian(*payload, 8) : std::nullopt;
    if (!index) return fault("applied index record is corrupt");
    response.mutable_header()->set_revision(*index);
  } else if (!applied.IsNotFound()) {
    return fault("cannot read the applied index: " + applied.ToString());
  }

  const std::string& end = request.range_end();
  const bool to_the_end = end == std::string("\0", 1);
  const std::string prefix(1, keys::kDataPrefix);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, family.get()));
  for (it->Seek(keys::data(request.key())); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view user_key(it->key().data() + 1, it->key().size() - 1);
    if (end.empty() ? user_key != request.key() : (!to_the_end && user_key >= end)) break;
    response.set_count(response.count() + 1);
    if (request.count_only()) continue;
    if (request.limit() > 0 && response.kvs_size() >= request.limit()) {
      response.set_more(true);
      continue;
    }
    const std::optional<std::string_view> payload = record::open({it->value().data(), it->value().size()});
    pb::StoredValue stored;
    if (!payload || !stored.ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
      return fault("the record of key " + it->key().ToString(true) + " is corrupt");
    }
    api::KeyValue* kv = response.add_kvs();
    kv->set_key(std::string(user_key));
    if (!request.keys_only()) kv->set_value(stored.value());
    kv->set_version(stored.version());
    kv->set_create_revision(stored.create_index());
    kv->set_mod_revision(stored.mod_index());
  }
  if (!it->status().ok()) return fault("cannot read: " + it->status().ToString());
  return response;
}

Result<Store::Digest> Store::digest() const {
  const std::shared_ptr<rocksdb::ColumnFamilyHandle> family = active();
  const ReadView view(*db_);
  const rocksdb::ReadOptions& options = view.options();

  Digest digest;
  raft::Fnv1a64 hash;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, family.get()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    const std::optional<std::string_view> payload = record::open({it->value().data(), it->value().size()});
    if (!payload) return fault("the record of key " + it->key().ToString(true) + " is corrupt");
    // Lengths first, so that ("ab", "c") and ("a", "bc") differ.
    hash.add(record::big_endian(key.size(), 8));
    hash.add(key);
    hash.add(record::big_endian(payload->size(), 8));
    hash.add(*payload);
    if (key == keys::kApplied) {
      const std::optional<std::uint64_t> index = record::from_big_endian(*payload, 8);
      if (!index) return fault("applied index record is corrupt");
      digest.applied_index = *index;
    } else if (!key.empty() && key[0] == keys::kDataPrefix) {
      ++digest.keys;
    }
  }
  if (!it->status().ok()) return fault("cannot read: " + it->status().ToString());
  digest.digest = hash.value();
  return digest;
}

}  // namespace kv
