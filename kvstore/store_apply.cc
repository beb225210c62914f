// kv::Store: applying commands -- puts, deletes and transactions, client
// sessions (at-most-once, dissertation §6.3) and the cluster time that
// expires them. The commands raft::Server hands over together become one
// WriteBatch with the last one's applied index: one RocksDB write for many
// commands, and after a crash the state after exactly the applied index.

#include <rocksdb/db.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <span>

#include "kvstore/store.h"
#include "kvstore/store_keys.h"
#include "kvstore/unlogged_write.h"

namespace kv {

using raft::Error;
using raft::ErrorCode;
using raft::Index;
using raft::Result;
using raft::Status;
namespace api = raftkv::api;
namespace record = raft::storage_record;

namespace {

// The end of a range: empty for a single key, "\0" for no end.
bool in_range(std::string_view key, std::string_view start, std::string_view end) {
  if (end.empty()) return key == start;
  if (end == std::string_view("\0", 1)) return key >= start;
  return key >= start && key < end;
}

std::string check_key(std::string_view key) {
  if (key.empty()) return "the key is empty";
  if (key.size() > Store::kMaxKeyBytes) {
    return "the key is " + std::to_string(key.size()) + " bytes, over the limit of " +
           std::to_string(Store::kMaxKeyBytes);
  }
  return {};
}

api::KeyValue key_value(std::string_view key, const pb::StoredValue& stored) {
  api::KeyValue result;
  result.set_key(std::string(key));
  result.set_value(stored.value());
  result.set_version(stored.version());
  result.set_create_revision(stored.create_index());
  result.set_mod_revision(stored.mod_index());
  return result;
}

}  // namespace

// One command's effects, added to the batch of the commands applied
// together, with read-your-writes (a transaction's later operations, and
// later commands of the batch, see earlier ones).
class Store::Execution {
 public:
  Execution(const Store& store, rocksdb::ColumnFamilyHandle* family, Index index,
            rocksdb::WriteBatchWithIndex& batch)
      : store_(store), family_(family), index_(index), batch_(batch) {}

  Result<std::optional<pb::StoredValue>> get(std::string_view user_key) {
    std::string value;
    const rocksdb::Status found =
        batch_.GetFromBatchAndDB(store_.db_.get(), {}, family_, keys::data(user_key), &value);
    if (found.IsNotFound()) return std::optional<pb::StoredValue>();
    if (!found.ok()) return store_.fault("cannot read: " + found.ToString());
    const std::optional<std::string_view> payload = record::open(value);
    pb::StoredValue stored;
    if (!payload || !stored.ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
      return store_.fault("the record of key " +
                          rocksdb::Slice(user_key.data(), user_key.size()).ToString(true) + " is corrupt");
    }
    return std::optional<pb::StoredValue>(std::move(stored));
  }

  Status put(const api::PutRequest& request, api::PutResponse& response) {
    Result<std::optional<pb::StoredValue>> existing = get(request.key());
    if (!existing.ok()) return existing.error();
    pb::StoredValue stored;
    stored.set_value(request.value());
    stored.set_version(existing.value() ? existing.value()->version() + 1 : 1);
    stored.set_create_index(existing.value() ? existing.value()->create_index() : index_);
    stored.set_mod_index(index_);
    if (request.prev_kv() && existing.value())
      *response.mutable_prev_kv() = key_value(request.key(), *existing.value());
    batch_.Put(family_, keys::data(request.key()), record::seal(stored.SerializeAsString()));
    response.mutable_header()->set_revision(index_);
    return {};
  }

  Status erase(const api::DeleteRequest& request, api::DeleteResponse& response) {
    std::vector<std::pair<std::string, pb::StoredValue>> doomed;
    if (request.range_end().empty()) {
      Result<std::optional<pb::StoredValue>> existing = get(request.key());
      if (!existing.ok()) return existing.error();
      if (existing.value()) doomed.emplace_back(request.key(), *existing.value());
    } else {
      std::unique_ptr<rocksdb::Iterator> it(
          batch_.NewIteratorWithBase(family_, store_.db_->NewIterator({}, family_)));
      for (it->Seek(keys::data(request.key()));
           it->Valid() && it->key().starts_with(std::string(1, keys::kDataPrefix)); it->Next()) {
        const std::string user_key = it->key().ToString().substr(1);
        if (!in_range(user_key, request.key(), request.range_end())) break;
        const std::optional<std::string_view> payload =
            record::open({it->value().data(), it->value().size()});
        pb::StoredValue stored;
        if (!payload || !stored.ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
          return store_.fault("the record of key " + it->key().ToString(true) + " is corrupt");
        }
        doomed.emplace_back(user_key, std::move(stored));
      }
      if (!it->status().ok()) return store_.fault("cannot read: " + it->status().ToString());
    }
    for (const auto& [user_key, stored] : doomed) {
      batch_.Delete(family_, keys::data(user_key));
      if (request.prev_kv()) *response.add_prev_kvs() = key_value(user_key, stored);
    }
    response.set_deleted(doomed.size());
    response.mutable_header()->set_revision(index_);
    return {};
  }

  Result<bool> holds(const api::Compare& compare) {
    Result<std::optional<pb::StoredValue>> existing = get(compare.key());
    if (!existing.ok()) return existing.error();
    const pb::StoredValue stored = existing.value().value_or(pb::StoredValue());
    int order = 0;  // the key's side compared with the request's
    if (compare.target() == api::Compare::VALUE) {
      order = stored.value().compare(compare.value());
    } else {
      const std::uint64_t actual = compare.target() == api::Compare::VERSION           ? stored.version()
                                   : compare.target() == api::Compare::CREATE_REVISION ? stored.create_index()
                                                                                       : stored.mod_index();
      order = actual < compare.number() ? -1 : actual > compare.number() ? 1 : 0;
    }
    switch (compare.result()) {
      case api::Compare::EQUAL: return order == 0;
      case api::Compare::NOT_EQUAL: return order != 0;
      case api::Compare::GREATER: return order > 0;
      case api::Compare::LESS: return order < 0;
      default: return false;
    }
  }

  Status txn(const api::TxnRequest& request, api::TxnResponse& response) {
    bool succeeded = true;
    for (const api::Compare& compare : request.compare()) {
      Result<bool> held = holds(compare);
      if (!held.ok()) return held.error();
      succeeded = succeeded && held.value();
    }
    response.set_succeeded(succeeded);
    for (const api::RequestOp& op : succeeded ? request.success() : request.failure()) {
      api::ResponseOp* out = response.add_responses();
      Status done =
          op.has_put() ? put(op.put(), *out->mutable_put()) : erase(op.delete_(), *out->mutable_delete_());
      if (!done.ok()) return done;
    }
    response.mutable_header()->set_revision(index_);
    return {};
  }

 private:
  const Store& store_;
  rocksdb::ColumnFamilyHandle* family_;
  const Index index_;
  rocksdb::WriteBatchWithIndex& batch_;
};

std::string Store::problem_with(const pb::Command& command) {
  auto check_put = [](const api::PutRequest& put) -> std::string {
    if (std::string problem = check_key(put.key()); !problem.empty()) return problem;
    if (put.value().size() > kMaxValueBytes) {
      return "the value is " + std::to_string(put.value().size()) + " bytes, over the limit of " +
             std::to_string(kMaxValueBytes);
    }
    return {};
  };
  auto check_op = [&](const api::RequestOp& op) -> std::string {
    if (op.has_put()) return check_put(op.put());
    if (op.has_delete_()) return check_key(op.delete_().key());
    return "a transaction operation is empty";
  };
  if (command.has_put()) return check_put(command.put());
  if (command.has_delete_()) return check_key(command.delete_().key());
  if (command.has_txn()) {
    for (const api::Compare& compare : command.txn().compare()) {
      if (std::string problem = check_key(compare.key()); !problem.empty()) return problem;
    }
    for (const auto* ops : {&command.txn().success(), &command.txn().failure()}) {
      for (const api::RequestOp& op : *ops) {
        if (std::string problem = check_op(op); !problem.empty()) return problem;
      }
    }
    return {};
  }
  return "the command is empty";
}

namespace {

const api::Session* session_of(const pb::Command& command) {
  const api::Session* session = command.has_put()       ? &command.put().session()
                                : command.has_delete_() ? &command.delete_().session()
                                : command.has_txn()     ? &command.txn().session()
                                                        : nullptr;
  return session != nullptr && session->client_id() != 0 ? session : nullptr;
}

}  // namespace

Result<std::string> Store::apply(Index index, std::string_view command) {
  const raft::CommittedCommand one{index, command};
  Result<std::vector<std::string>> results = apply_all(std::span(&one, 1));
  if (!results.ok()) return results.error();
  return std::move(results.value().front());
}

Result<std::vector<std::string>> Store::apply_all(std::span<const raft::CommittedCommand> commands) {
  const std::shared_ptr<rocksdb::ColumnFamilyHandle> family = active();
  rocksdb::WriteBatchWithIndex batch(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
  std::vector<std::string> results;
  results.reserve(commands.size());
  for (const raft::CommittedCommand& committed : commands) {
    Result<std::string> result = apply_one(*family, batch, committed.index, committed.command);
    if (!result.ok()) return result.error();
    results.push_back(std::move(result).value());
  }
  if (commands.empty()) return results;
  const Index last = commands.back().index;
  batch.Put(family.get(), keys::kClusterTime, record::seal(record::big_endian(cluster_time_ms_, 8)));
  batch.Put(family.get(), keys::kApplied, record::seal(record::big_endian(last, 8)));
  if (const rocksdb::Status written = db_->Write(unlogged(), batch.GetWriteBatch()); !written.ok()) {
    return fault("cannot apply indexes " + std::to_string(commands.front().index) + ".." +
                 std::to_string(last) + ": " + written.ToString());
  }
  applied_ = last;
  return results;
}

// One command into `batch`. The session index and the cluster time move on
// in memory at once: if the batch then fails to be written the node stops
// (the error goes up), so memory never runs ahead of a store that goes on.
Result<std::string> Store::apply_one(rocksdb::ColumnFamilyHandle& family, rocksdb::WriteBatchWithIndex& batch,
                                     Index index, std::string_view command_bytes) {
  Execution execution(*this, &family, index, batch);
  pb::Command command;
  pb::CommandResult result;
  const bool parsed = command.ParseFromArray(command_bytes.data(), static_cast<int>(command_bytes.size()));
  // Cluster time only moves forward, whatever a leader's clock says.
  const std::uint64_t now = std::max(cluster_time_ms_, parsed ? command.cluster_time_ms() : 0);
  const api::Session* session = parsed ? session_of(command) : nullptr;
  std::optional<pb::StoredSession> previous;
  if (session != nullptr) {
    std::string value;
    const rocksdb::Status found =
        batch.GetFromBatchAndDB(db_.get(), {}, &family, keys::session(session->client_id()), &value);
    if (found.ok()) {
      const std::optional<std::string_view> payload = record::open(value);
      previous.emplace();
      if (!payload || !previous->ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
        return fault("the session record of client " + std::to_string(session->client_id()) + " is corrupt");
      }
    } else if (!found.IsNotFound()) {
      return fault("cannot read a session: " + found.ToString());
    }
  }
  if (!parsed) {
    result.set_error("the command is not a kv.pb.Command");
  } else if (previous && session->sequence() == previous->sequence()) {
    result = previous->result();  // a retry: the first attempt's answer, applied once
  } else if (previous && session->sequence() < previous->sequence()) {
    result.set_error("session " + std::to_string(session->client_id()) + " is already at sequence " +
                     std::to_string(previous->sequence()));
  } else if (std::string problem = problem_with(command); !problem.empty()) {
    result.set_error(problem);
  } else {
    const Status done = command.has_put() ? execution.put(command.put(), *result.mutable_put())
                        : command.has_delete_()
                            ? execution.erase(command.delete_(), *result.mutable_delete_())
                            : execution.txn(command.txn(), *result.mutable_txn());
    if (!done.ok()) return done.error();
  }

  const bool new_sequence = session != nullptr && (!previous || session->sequence() > previous->sequence());
  if (new_sequence) {
    pb::StoredSession stored;
    stored.set_sequence(session->sequence());
    stored.set_last_used_ms(now);
    *stored.mutable_result() = result;
    batch.Put(&family, keys::session(session->client_id()), record::seal(stored.SerializeAsString()));
  }
  // Sessions unused for kSessionTimeoutMs of cluster time are forgotten,
  // in the same batch: every replica forgets them at the same index.
  std::vector<std::uint64_t> expired;
  for (auto it = sessions_by_time_.begin();
       it != sessions_by_time_.end() && it->first + kSessionTimeoutMs < now; ++it) {
    if (new_sequence && it->second == session->client_id()) continue;
    batch.Delete(&family, keys::session(it->second));
    expired.push_back(it->second);
  }
  cluster_time_ms_ = now;
  auto forget = [&](std::uint64_t client) {
    auto used = session_last_used_.find(client);
    if (used == session_last_used_.end()) return;
    auto [first, last] = sessions_by_time_.equal_range(used->second);
    for (auto it = first; it != last; ++it) {
      if (it->second == client) {
        sessions_by_time_.erase(it);
        break;
      }
    }
    session_last_used_.erase(used);
  };
  for (std::uint64_t client : expired) forget(client);
  if (new_sequence) {
    forget(session->client_id());
    session_last_used_[session->client_id()] = now;
    sessions_by_time_.emplace(now, session->client_id());
  }
  return result.SerializeAsString();
}

Status Store::load_sessions(rocksdb::ColumnFamilyHandle* family) {
  cluster_time_ms_ = 0;
  session_last_used_.clear();
  sessions_by_time_.clear();
  std::string value;
  const rocksdb::Status time = db_->Get({}, family, keys::kClusterTime, &value);
  if (time.ok()) {
    const std::optional<std::string_view> payload = record::open(value);
    const std::optional<std::uint64_t> ms = payload ? record::from_big_endian(*payload, 8) : std::nullopt;
    if (!ms) return fault("the cluster time record is corrupt");
    cluster_time_ms_ = *ms;
  } else if (!time.IsNotFound()) {
    return fault("cannot read the cluster time: " + time.ToString());
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, family));
  const std::string prefix(1, keys::kSessionPrefix);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::optional<std::string_view> payload = record::open({it->value().data(), it->value().size()});
    const std::optional<std::uint64_t> client =
        record::from_big_endian(std::string_view(it->key().data() + 1, it->key().size() - 1), 8);
    pb::StoredSession stored;
    if (!payload || !client || !stored.ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
      return fault("a session record is corrupt: " + it->key().ToString(true));
    }
    session_last_used_[*client] = stored.last_used_ms();
    sessions_by_time_.emplace(stored.last_used_ms(), *client);
  }
  if (!it->status().ok()) return fault("cannot read the sessions: " + it->status().ToString());
  return {};
}

}  // namespace kv
