#pragma once
// Storage in process memory, for tests and the in-process demo. It survives
// a raft::Server being stopped and started again (the "crash" of a test), not
// the process.

#include <mutex>

#include "raft/storage.h"

namespace raft {

class InMemoryStorage final : public Storage {
 public:
  Result<PersistentState> load() override;
  Status save(const pb::HardState* hard_state, const std::vector<pb::Entry>& entries, bool sync) override;

 private:
  std::mutex mutex_;
  PersistentState state_;
};

}  // namespace raft
