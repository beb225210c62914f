#pragma once
// The save workload of the storage crash test, shared by the child that runs
// it against RocksDbStorage and the parent that checks what survived: both
// derive the same sequence of operations from (durable state, seed), so the
// parent knows exactly which states a crash may leave behind.

#include <cstdint>
#include <vector>

#include "raft/random.h"
#include "raft/storage.h"

namespace raft::testing {

// One storage operation: a save (hard state and entries), recording a
// snapshot, or compacting the log.
struct Save {
  enum class Kind { kSave, kSnapshot, kCompact };
  Kind kind = Kind::kSave;
  pb::HardState hard_state;
  std::vector<pb::Entry> entries;
  pb::SnapshotMetadata snapshot;
  Index compact_through = 0;
};

class CrashWorkload {
 public:
  CrashWorkload(PersistentState start, std::uint64_t seed) : state_(std::move(start)), random_(seed) {}

  // The next operation: mostly appends of 1-16 entries, sometimes a new term
  // whose entries replace a suffix (as a follower's do), a vote or a commit;
  // now and then a snapshot of a committed entry, a snapshot from a leader
  // that replaces the log, or a compaction up to the snapshot.
  Save next();
  // The state once `save` is durable.
  void apply(const Save& save);
  const PersistentState& state() const { return state_; }

 private:
  Index last_index() const { return state_.log_base.index() + state_.entries.size(); }
  Term term_at(Index index) const;

  PersistentState state_;
  DeterministicRandom random_;
};

// Applies `save` to `storage`.
Status perform(Storage& storage, const Save& save);

bool same_state(const PersistentState& a, const PersistentState& b);

}  // namespace raft::testing
