#include "daemon/node_storage.h"

#include <filesystem>

#include "raft/snapshot_file.h"

namespace raftkv {

namespace {

raft::Status check_directory(const std::string& directory, NodeStorage::Mode mode) {
  namespace fs = std::filesystem;
  auto refuse = [&](const std::string& what) {
    return raft::Error{raft::ErrorCode::kStorage, "data directory " + directory + ": " + what};
  };
  std::error_code error;
  const fs::path path(directory);
  if (!fs::exists(path, error)) {
    if (mode == NodeStorage::Mode::kExistingOnly) return refuse("does not exist");
    return {};
  }
  if (!fs::is_directory(path, error)) return refuse("exists and is not a directory");
  if (fs::is_empty(path, error)) {
    if (mode == NodeStorage::Mode::kExistingOnly) return refuse("is empty: no node has run here");
    return {};
  }
  if (!fs::exists(path / "raft" / "CURRENT", error)) {
    return refuse("is not empty and holds no raftkv node data (no raft/CURRENT); refusing to touch it");
  }
  if (mode == NodeStorage::Mode::kExistingOnly) {
    for (const char* part : {"snapshots", "kv"}) {
      if (!fs::is_directory(path / part, error)) return refuse(std::string("has no ") + part + "/ directory");
    }
  }
  return {};
}

}  // namespace

raft::Result<NodeStorage> NodeStorage::open(const std::string& directory, raft::StorageIdentity identity,
                                            Mode mode, std::shared_ptr<raft::RocksDbMemory> memory) {
  if (raft::Status checked = check_directory(directory, mode); !checked.ok()) return checked.error();
  NodeStorage node;
  node.directory_ = directory;
  auto raft = raft::RocksDbStorage::open(directory + "/raft", identity, memory);
  if (!raft.ok()) return raft.error();
  node.raft_ = std::move(raft).value();
  auto snapshots = raft::FileSnapshotStore::open(directory + "/snapshots");
  if (!snapshots.ok()) return snapshots.error();
  node.snapshots_ = std::move(snapshots).value();
  auto store = kv::Store::open(directory + "/kv", memory);
  if (!store.ok()) return store.error();
  node.store_ = std::move(store).value();
  return node;
}

raft::Result<NodeStorageSummary> NodeStorage::check() {
  raft::Result<raft::PersistentState> loaded = raft_->load();
  if (!loaded.ok()) return loaded.error();
  const raft::PersistentState& state = loaded.value();
  NodeStorageSummary summary;
  summary.hard_state = state.hard_state;
  summary.snapshot = state.snapshot;
  summary.first_log_index = state.log_base.index() + 1;
  summary.last_log_index = state.log_base.index() + state.entries.size();
  summary.applied_index = store_->applied_index();
  if (state.snapshot.index() > 0) {
    if (raft::Status intact = raft::snapshot_file::verify(*snapshots_, state.snapshot); !intact.ok()) {
      return intact.error();
    }
  }
  if (summary.applied_index > summary.last_log_index) {
    return raft::Error{raft::ErrorCode::kStorage,
                       "key-value store " + store_->directory() + " has applied index " +
                           std::to_string(summary.applied_index) + " but the Raft log in " +
                           raft_->directory() + " ends at " + std::to_string(summary.last_log_index) +
                           ": the two directories are not from the same node"};
  }
  auto keys = store_->all();
  if (!keys.ok()) return keys.error();
  summary.keys = keys.value().size();
  return summary;
}

}  // namespace raftkv
