#pragma once
// raft::Storage: where a node keeps what Raft requires to survive a crash --
// its hard state (term, vote, commit), its log, and the metadata of its
// latest snapshot (the snapshot's bytes live in a SnapshotStore).

#include <vector>

#include "raft/result.h"
#include "raft/types.h"

namespace raft {

struct PersistentState {
  pb::HardState hard_state;
  // The latest snapshot recorded; index 0 when there is none.
  pb::SnapshotMetadata snapshot;
  // The log's compaction point: `entries` start right after it.
  pb::LogBase log_base;
  std::vector<pb::Entry> entries;
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

  // Records `snapshot` as the latest, durably (its bytes must already be
  // durable). If the log holds the snapshot's last entry (same index and
  // term) the log is kept (Figure 13, rule 6); otherwise the whole log is
  // discarded and continues after the snapshot (rule 7). Atomic.
  virtual Status save_snapshot(const pb::SnapshotMetadata& snapshot) = 0;

  // Log compaction (§7): deletes the entries up to and including `through`,
  // which must not be past the latest snapshot. Need not be synced: a crash
  // that loses it only leaves entries to delete again.
  virtual Status compact(Index through) = 0;

  // The stored entries first..last (first <= last), each whole. An error
  // when any of them is not stored (compacted away, or beyond the end) or
  // cannot be read. The driver reads payloads the core dropped from memory
  // (CoreConfig::log_payload_cache_bytes) this way, on the thread that
  // saves: what it reads is what it saved.
  virtual Result<std::vector<pb::Entry>> read_entries(Index first, Index last) = 0;
};

}  // namespace raft
