#pragma once
// raft::Storage: where a node keeps what Raft requires to survive a crash --
// its hard state (term, vote, commit) and its log.

#include <vector>

#include "raft/result.h"
#include "raft/types.h"

namespace raft {

struct PersistentState {
  pb::HardState hard_state;
  std::vector<pb::Entry> entries;  // contiguous, from index 1 (or after a snapshot)
};

class Storage {
 public:
  virtual ~Storage() = default;

  // What was saved before the last shutdown or crash.
  virtual Result<PersistentState> load() = 0;

  // Atomically stores `hard_state` (when not null) and replaces the stored
  // log from entries.front().index() on with `entries`. With `sync`, the
  // data is durable when this returns: Raft acknowledges it to others.
  virtual Status save(const pb::HardState* hard_state, const std::vector<pb::Entry>& entries, bool sync) = 0;
};

}  // namespace raft
