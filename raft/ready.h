#pragma once
// Everything the core asks its driver to do, batched. The driver must handle
// a Ready in this order and then call Core::advance():
//
//   1. send `messages` (these may go out before the disk write, §10.2.1),
//      filling in the bytes of any InstallSnapshot chunk from its snapshot;
//   2. append `snapshot_chunks` to the snapshot being received; when one is
//      `done`, check the whole snapshot and, after advance(), report the
//      result with Core::snapshot_received();
//   3. install `snapshot`: record it in storage, replacing the whole log, and
//      restore the state machine from it before applying anything later;
//   4. persist `entries` (replacing the stored log from entries.front().index
//      on) and `hard_state`, atomically, syncing when `must_sync`;
//   5. send `messages_after_persist` (votes and acknowledgements, which
//      promise that what they acknowledge is durable);
//   6. apply `committed_entries` in order and serve `read_states` once the
//      state machine has applied up to their index.

#include <optional>
#include <vector>

#include "raft/types.h"

namespace raft {

// A linearizable read may be served once the state machine has applied
// `index` (§6.4). `ok` is false when leadership could not be confirmed.
struct ReadState {
  std::uint64_t request_id = 0;
  Index index = 0;
  bool ok = false;
};

// Volatile state that the driver reports but never persists.
struct SoftState {
  Role role = Role::kFollower;
  NodeId leader = kNoNode;
  Term term = 0;
  bool operator==(const SoftState&) const = default;
};

struct Ready {
  std::optional<SoftState> soft_state;      // set when role, leader or term changed
  std::optional<pb::HardState> hard_state;  // set when it changed
  std::vector<pb::Entry> entries;
  bool must_sync = false;
  std::vector<pb::Message> messages;
  std::vector<pb::InstallSnapshot> snapshot_chunks;
  std::optional<pb::SnapshotMetadata> snapshot;
  std::vector<pb::Message> messages_after_persist;
  std::vector<pb::Entry> committed_entries;
  std::vector<ReadState> read_states;
};

}  // namespace raft
