#pragma once
// The state machine's side of a node. It carries out a Node's ApplyWork
// (raft/node.h) in order on a StateMachine:
//
//   - restores it from an installed snapshot (checked end to end first);
//   - applies committed commands, many per StateMachine::apply_all call;
//   - answers each waiting proposal by its ticket's term: the entry at its
//     index with that term is it (applied, with the state machine's
//     answer); another term means another leader's entry won the index and
//     the proposal never committed (kProposalDropped);
//   - serves each read once the state machine has applied up to its index;
//
// and says when the state machine is due for a snapshot, handing out a
// frozen view to write while it goes on applying (one at a time).
//
// Single-threaded: raft::Server runs it on its apply thread, the
// simulation inline. The same code decides every outcome in both.

#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "raft/node.h"
#include "raft/snapshot_store.h"
#include "raft/state_machine.h"

namespace raft {

// Checks the snapshot file end to end, then restores `machine` from it.
Status restore_state_machine(StateMachine& machine, SnapshotStore& snapshots,
                             const pb::SnapshotMetadata& snapshot);

// A snapshot due: the state machine's view to write out and the header to
// write it with. Written by write_snapshot(), possibly on another thread.
struct SnapshotJob {
  std::unique_ptr<StateMachineView> view;
  pb::SnapshotMetadata header;
};

// The job's view written into a new snapshot file, not yet committed.
struct EncodedSnapshot {
  std::unique_ptr<SnapshotFileWriter> file;
  pb::SnapshotMetadata metadata;
};
Result<EncodedSnapshot> encode_snapshot(SnapshotStore& snapshots, SnapshotJob& job);

// encode_snapshot(), then the file committed (durably): the metadata of
// the committed snapshot, for Node::snapshot_taken().
Result<pb::SnapshotMetadata> write_snapshot(SnapshotStore& snapshots, SnapshotJob& job);

// What a node starts from, raft::Server and the simulation alike: its
// storage as loaded, with the state machine restored from the latest
// snapshot when it is behind it (the node crashed between recording an
// installed snapshot and restoring from it, or the state machine's data is
// new), and the other snapshot files -- older ones, and any a crash left
// half-written -- deleted.
Result<RestoredState> recover(PersistentState state, StateMachine& machine, SnapshotStore& snapshots);

struct ApplierOptions {
  // A snapshot is due after this many entries, or this many bytes of
  // commands, applied since the last one; 0 disables either.
  std::uint64_t snapshot_entries = 100'000;
  std::uint64_t snapshot_bytes = 64 << 20;
};

class Applier {
 public:
  // `snapshot` is the latest snapshot (the state machine applied at least
  // up to it); `configuration` the one in force at the state machine's
  // applied index.
  Applier(ApplierOptions options, StateMachine& machine, SnapshotStore& snapshots,
          const pb::SnapshotMetadata& snapshot, pb::Configuration configuration);

  // Carries out `work`. An error means the state machine cannot go on (a
  // failed restore or apply): every proposal and read in `work` has been
  // failed with it, and the node must stop.
  Status apply(ApplyWork work);

  // A snapshot, if one is due and none is being written: the caller writes
  // it (write_snapshot) and then calls snapshot_done().
  std::optional<SnapshotJob> snapshot_if_due();
  void snapshot_done();

  // Reads still waiting for the state machine to catch up fail with `error`.
  void fail_waiting_reads(const Error& error);

  Index applied() const { return machine_.applied_index(); }
  // The last index handed to the state machine or restored, configuration
  // entries included (applied() counts commands only).
  Index last_index() const { return last_index_; }
  std::uint64_t snapshots_restored() const { return snapshots_restored_; }

  // Called for every entry applied, with its index and term: the
  // simulation's checker watches what each node applies.
  std::function<void(const pb::Entry&)> on_entry_applied;
  // Called when a snapshot replaced the state.
  std::function<void(const pb::SnapshotMetadata&)> on_restored;

 private:
  Status apply_entries(ApplyWork& work);
  void release_reads();

  const ApplierOptions options_;
  StateMachine& machine_;
  SnapshotStore& snapshots_;
  std::multimap<Index, ReadDone> waiting_reads_;
  Index last_index_ = 0;
  // What the next snapshot is measured against.
  Index last_snapshot_index_ = 0;
  std::uint64_t bytes_since_snapshot_ = 0;
  Index last_command_index_ = 0;
  Term last_command_term_ = 0;
  pb::Configuration configuration_;  // in force at the last applied entry: goes in snapshots
  bool snapshot_running_ = false;
  std::uint64_t snapshots_restored_ = 0;
};

}  // namespace raft
