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
    const Index first_new = entries.front().index();
    if (first_new < first_index() || first_new > last_index() + 1) {
      return Error{ErrorCode::kStorage, "entries at " + std::to_string(first_new) +
                                            " do not continue the log " + std::to_string(first_index()) +
                                            ".." + std::to_string(last_index())};
    }
    state_.entries.resize(first_new - first_index());
    state_.entries.insert(state_.entries.end(), entries.begin(), entries.end());
  }
  if (hard_state != nullptr) state_.hard_state = *hard_state;
  return {};
}

Status InMemoryStorage::save_snapshot(const pb::SnapshotMetadata& snapshot) {
  std::lock_guard lock(mutex_);
  const Index index = snapshot.index();
  const bool log_holds_it = (index == state_.log_base.index() && snapshot.term() == state_.log_base.term()) ||
                            (index >= first_index() && index <= last_index() &&
                             state_.entries[index - first_index()].term() == snapshot.term());
  if (!log_holds_it) {
    state_.entries.clear();
    state_.log_base.set_index(index);
    state_.log_base.set_term(snapshot.term());
  }
  state_.snapshot = snapshot;
  return {};
}

Status InMemoryStorage::compact(Index through) {
  std::lock_guard lock(mutex_);
  if (through <= state_.log_base.index()) return {};
  if (through > state_.snapshot.index() || through > last_index()) {
    return Error{ErrorCode::kStorage, "cannot compact through " + std::to_string(through) +
                                          ": past the snapshot or the log's end"};
  }
  const std::size_t dropped = through - state_.log_base.index();
  state_.log_base.set_term(state_.entries[dropped - 1].term());
  state_.log_base.set_index(through);
  state_.entries.erase(state_.entries.begin(), state_.entries.begin() + static_cast<std::ptrdiff_t>(dropped));
  return {};
}

Result<std::vector<pb::Entry>> InMemoryStorage::read_entries(Index first, Index last) {
  std::lock_guard lock(mutex_);
  if (first > last || first < first_index() || last > last_index()) {
    return Error{ErrorCode::kStorage, "entries " + std::to_string(first) + ".." + std::to_string(last) +
                                          " are not stored (the log holds " + std::to_string(first_index()) +
                                          ".." + std::to_string(last_index()) + ")"};
  }
  const auto begin = state_.entries.begin() + static_cast<std::ptrdiff_t>(first - first_index());
  return std::vector<pb::Entry>(begin, begin + static_cast<std::ptrdiff_t>(last - first + 1));
}

}  // namespace raft
