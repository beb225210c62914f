#pragma once
// Storage in process memory, for tests and the in-process demo. It survives
// a raft::Server being stopped and started again (the "crash" of a test), not
// the process.

#include <mutex>

#include "raft/storage.h"

namespace raft {

class InMemoryStorage final : public Storage {
 public:
  InMemoryStorage() = default;
  // A copy of another's content (the simulation keeps a disk's durable
  // part apart from what was written since).
  InMemoryStorage(const InMemoryStorage& other) : state_(other.copy()) {}
  InMemoryStorage& operator=(const InMemoryStorage& other) {
    if (this == &other) return *this;
    PersistentState content = other.copy();
    std::lock_guard lock(mutex_);
    state_ = std::move(content);
    return *this;
  }

  Result<PersistentState> load() override;
  Status save(const pb::HardState* hard_state, const std::vector<pb::Entry>& entries, bool sync) override;
  Status save_snapshot(const pb::SnapshotMetadata& snapshot) override;
  Status compact(Index through) override;
  Result<std::vector<pb::Entry>> read_entries(Index first, Index last) override;

 private:
  PersistentState copy() const {
    std::lock_guard lock(mutex_);
    return state_;
  }
  Index first_index() const { return state_.log_base.index() + 1; }
  Index last_index() const { return state_.log_base.index() + state_.entries.size(); }

  mutable std::mutex mutex_;
  PersistentState state_;
};

}  // namespace raft
