#include "tests/sim/simulated_storage.h"

#include <optional>

namespace raft::sim {

Status SimulatedStorage::write(Write write) {
  if (Status done = write(current_); !done.ok()) return done;
  unsynced_.push_back(std::move(write));
  return {};
}

Status SimulatedStorage::save(const pb::HardState* hard_state, const std::vector<pb::Entry>& entries,
                              bool sync) {
  std::optional<pb::HardState> state;
  if (hard_state != nullptr) state = *hard_state;
  // The storage's own sync flag is not what makes a write durable here:
  // the simulation decides when the write in flight completes (sync()).
  return write(
      [state, entries, sync](Storage& disk) { return disk.save(state ? &*state : nullptr, entries, sync); });
}

Status SimulatedStorage::save_snapshot(const pb::SnapshotMetadata& snapshot) {
  return write([snapshot](Storage& disk) { return disk.save_snapshot(snapshot); });
}

Status SimulatedStorage::compact(Index through) {
  return write([through](Storage& disk) { return disk.compact(through); });
}

void SimulatedStorage::sync() {
  for (Write& write : unsynced_) (void)write(durable_);
  unsynced_.clear();
}

void SimulatedStorage::crash(std::size_t kept) {
  for (std::size_t i = 0; i < kept && i < unsynced_.size(); ++i) (void)unsynced_[i](durable_);
  unsynced_.clear();
  current_ = durable_;
}

}  // namespace raft::sim
