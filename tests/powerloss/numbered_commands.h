#pragma once
// The commands store_power_loss_test writes and the state they make: command
// i puts value_of(i) at key_of(i), and every 7th also creates a key of its
// own, so that a store missing a command shows a stale value or a missing
// key. Shared by the test and its writer process (store_writer.cc).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kvstore/store.h"
#include "proto/kv_store.pb.h"
#include "raft/rocksdb_memory.h"

namespace raftkv::powerloss {

constexpr std::uint64_t kCommandKeys = 251;
constexpr std::size_t kCommandsPerBatch = 8;  // per apply_all, as the apply thread batches them
constexpr std::size_t kCommandValueBytes = 300;

inline std::string key_of(raft::Index index) {
  return "key-" + std::to_string(index % kCommandKeys);
}

inline std::string value_of(raft::Index index) {
  std::string value = "value-" + std::to_string(index) + "-";
  value.resize(kCommandValueBytes, static_cast<char>('a' + index % 26));
  return value;
}

inline std::string created_key(raft::Index index) {
  return "created-" + std::to_string(index);
}

inline std::string command_for(raft::Index index) {
  kv::pb::Command command;
  if (index % 7 == 0) {
    auto* txn = command.mutable_txn();
    auto* put = txn->add_success()->mutable_put();
    put->set_key(key_of(index));
    put->set_value(value_of(index));
    auto* created = txn->add_success()->mutable_put();
    created->set_key(created_key(index));
    created->set_value(std::to_string(index));
  } else {
    command.mutable_put()->set_key(key_of(index));
    command.mutable_put()->set_value(value_of(index));
  }
  command.set_cluster_time_ms(1'000'000 + index);
  return command.SerializeAsString();
}

// What a store must hold after commands 1..applied.
inline std::map<std::string, std::string> state_after(raft::Index applied) {
  std::map<std::string, std::string> state;
  for (raft::Index index = 1; index <= applied; ++index) {
    state[key_of(index)] = value_of(index);
    if (index % 7 == 0) state[created_key(index)] = std::to_string(index);
  }
  return state;
}

// Applies commands first .. first + count - 1, in batches.
inline raft::Status apply_commands(kv::Store& store, raft::Index first, std::size_t count) {
  for (raft::Index batch_first = first; batch_first < first + count; batch_first += kCommandsPerBatch) {
    std::vector<std::string> bytes;
    for (raft::Index index = batch_first; index < batch_first + kCommandsPerBatch; ++index)
      bytes.push_back(command_for(index));
    std::vector<raft::CommittedCommand> batch;
    for (std::size_t i = 0; i < bytes.size(); ++i) batch.push_back({batch_first + i, bytes[i]});
    if (auto applied = store.apply_all(batch); !applied.ok()) return applied.error();
  }
  return {};
}

// The smallest budget a member may run with: memtables are flushed every
// few thousand commands, so a power failure finds flushed tables beside
// unflushed writes, as a long run does.
inline std::shared_ptr<raft::RocksDbMemory> small_memory() {
  return raft::RocksDbMemory::create(4 << 20);
}

// A snapshot's blocks, kept in memory: written by one store's view, read
// back by another's restore.
class SnapshotBlocks final : public raft::SnapshotSink, public raft::SnapshotSource {
 public:
  raft::Status write(std::string_view block) override {
    blocks_.emplace_back(block);
    return {};
  }
  raft::Result<bool> next(std::string& block) override {
    if (read_ == blocks_.size()) return false;
    block = blocks_[read_++];
    return true;
  }

 private:
  std::vector<std::string> blocks_;
  std::size_t read_ = 0;
};

}  // namespace raftkv::powerloss
