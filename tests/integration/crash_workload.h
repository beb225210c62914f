#pragma once
// The save workload of the storage crash test, shared by the child that runs
// it against RocksDbStorage and the parent that checks what survived: both
// derive the same sequence of saves from (durable state, seed), so the parent
// knows exactly which states a crash may leave behind.

#include <cstdint>
#include <vector>

#include "raft/random.h"
#include "raft/storage.h"

namespace raft::testing {

struct Save {
  pb::HardState hard_state;
  std::vector<pb::Entry> entries;
};

class CrashWorkload {
 public:
  CrashWorkload(PersistentState start, std::uint64_t seed) : state_(std::move(start)), random_(seed) {}

  // The next save: mostly appends of 1-16 entries, sometimes a new term
  // whose entries replace a suffix (as a follower's do), sometimes a vote.
  Save next();
  // The state once `save` is durable.
  void apply(const Save& save);
  const PersistentState& state() const { return state_; }

 private:
  PersistentState state_;
  DeterministicRandom random_;
};

bool same_state(const PersistentState& a, const PersistentState& b);

}  // namespace raft::testing
