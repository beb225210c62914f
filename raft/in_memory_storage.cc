#include "raft/in_memory_storage.h"

namespace raft {

Result<PersistentState> InMemoryStorage::load() {
  std::lock_guard lock(mutex_);
  return state_;
}

Status InMemoryStorage::save(const pb::HardState* hard_state, const std::vector<pb::Entry>& entries,
                             bool /*sync*/) {
  std::lock_guard lock(mutex_);
  if (!entries.empty()) {
    const Index first_stored = state_.entries.empty() ? 1 : state_.entries.front().index();
    const Index first_new = entries.front().index();
    const Index last_stored = first_stored + state_.entries.size() - 1;
    if (first_new < first_stored || first_new > last_stored + 1) {
      return Error{ErrorCode::kStorage, "entries at " + std::to_string(first_new) +
                                            " would leave a gap after index " + std::to_string(last_stored)};
    }
    state_.entries.resize(first_new - first_stored);
    state_.entries.insert(state_.entries.end(), entries.begin(), entries.end());
  }
  if (hard_state != nullptr) state_.hard_state = *hard_state;
  return {};
}

}  // namespace raft
