#pragma once
// raft::Node: one Raft node's driver -- the Ready contract (ready.h) carried
// out once, for every environment a node runs in. It owns the core and all
// a node tracks beside it: proposals waiting for their entries, reads
// waiting for a read point, a leadership transfer, the schedule of ticks.
//
// It is single-threaded, keeps no clock and writes nothing itself. Time
// comes with every input; whatever must reach a disk or the state machine
// leaves as a request in the Output, and its completion comes back as an
// input (write_done, snapshot_taken). Reads of what is already on disk --
// payloads the core dropped from memory, snapshot chunks to send -- are
// synchronous calls on Storage and SnapshotStore. raft::Server wraps a Node
// in threads, queues and the real clock; tests/sim wraps the same Node in a
// simulated disk, network and time, so the simulation runs what production
// runs.
//
// A Ready, as a Node carries it out:
//   1. `messages` go out at once (Output::messages), the leader's entries
//      before its own write (§10.2.1);
//   2-4. one DiskWrite (Output::write) carries the received snapshot chunks,
//      the installed snapshot to record, entries and hard state; at most one
//      is in flight, and every input that arrives meanwhile is held and fed
//      to the core once it completes -- so the next write covers all of it
//      (group commit);
//   5. when the write is done: the acknowledgements and votes
//      (`messages_after_persist`), never earlier;
//   6. committed entries and read points go to the state machine as
//      ApplyWork (Output::apply), in order, with the proposals they decide.

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "raft/core.h"
#include "raft/result.h"
#include "raft/snapshot_store.h"
#include "raft/storage.h"

namespace raft {

using NodeClock = std::chrono::steady_clock;
using NodeTime = NodeClock::time_point;

// A committed proposal: where it is in the log and what the state machine
// answered.
struct Applied {
  Index index = 0;
  std::string result;
};

using ProposalDone = std::function<void(Result<Applied>)>;
using ReadDone = std::function<void(Result<Index>)>;
using TransferDone = std::function<void(Status)>;

struct NodeOptions {
  CoreConfig core;
  std::chrono::milliseconds tick_interval{50};
  // A read whose leadership check gets no answer fails after this long.
  std::chrono::milliseconds read_timeout{2000};
  // A leadership transfer that has not completed after this long fails.
  std::chrono::milliseconds transfer_timeout{3000};
  // A snapshot the node took is recorded with the log compacted up to its
  // index minus this margin.
  std::uint64_t compaction_margin = 5'000;
};

// A proposal waiting for its entry to apply. Its ticket's term decides:
// the entry at its index with that term is it; another term means another
// leader's entry won the index and this proposal was never committed.
struct PendingProposal {
  Term term = 0;
  ProposalDone done;
};

// One write to the node's disk, to be done in this order and reported with
// Node::write_done(). See DiskWriter (raft/disk_writer.h), which does it.
struct DiskWrite {
  // Chunks of a snapshot being received, in order from offset 0; a `done`
  // one completes it, and the whole snapshot is then checked.
  std::vector<pb::InstallSnapshot> snapshot_chunks;
  // A snapshot to record as installed, replacing the whole log.
  std::optional<pb::SnapshotMetadata> install;
  // Entries (replacing the stored log from entries.front().index() on) and
  // the hard state, atomically; synced when `sync`.
  std::optional<pb::HardState> hard_state;
  std::vector<pb::Entry> entries;
  bool sync = false;
  // A snapshot this node took: record it, compact the stored log through
  // `compact_through`, and delete older snapshot files.
  std::optional<pb::SnapshotMetadata> record_taken;
  Index compact_through = 0;

  bool empty() const {
    return snapshot_chunks.empty() && !install && !hard_state && entries.empty() && !record_taken;
  }
};

struct DiskWriteResult {
  // Not ok: the disk failed, and the node stops (Node::failed()).
  Status status;
  // For each snapshot whose last chunk this write received: whether every
  // byte checked out (a damaged one was deleted and is fetched again).
  std::vector<std::pair<Index, bool>> snapshots_received;
};

// For the state machine, in order: restore from `restore` (if set), apply
// `entries`, answer the proposals among them by term, then serve `reads`
// once applied up to their index. See Applier (raft/applier.h).
struct ApplyWork {
  std::optional<pb::SnapshotMetadata> restore;
  std::vector<pb::Entry> entries;
  std::map<Index, PendingProposal> proposals;  // by index
  std::vector<std::pair<Index, ReadDone>> reads;
};

// The members the transport must reach, after a change of configuration.
struct PeerUpdate {
  std::map<NodeId, std::string> members;  // of every configuration since the committed one
  std::vector<NodeId> removed;            // removed in the committed configuration
};

// What a Node asks of its environment, collected since the last take_output().
struct NodeOutput {
  std::vector<pb::Message> messages;    // to send now
  std::optional<DiskWrite> write;       // at most one in flight
  std::vector<ApplyWork> apply;         // in order
  std::optional<SoftState> soft_state;  // role, leader or term changed
  std::optional<PeerUpdate> peers;      // the configuration changed
  // Lines for the operator's log (a node changing configuration or being
  // removed, a snapshot chunk that could not be read): the Node logs nothing
  // itself. Each with whether it is a warning.
  std::vector<std::pair<bool, std::string>> log;
  bool empty() const {
    return messages.empty() && !write && apply.empty() && !soft_state && !peers && log.empty();
  }
};

class Node {
 public:
  // `storage` and `snapshots` are only read (payloads and chunks to send);
  // every write goes out as a DiskWrite. `restored` is what start-up loaded.
  Node(NodeOptions options, RestoredState restored, Storage& storage, SnapshotStore& snapshots, NodeTime now);

  // ----- inputs (each may add to the output) -----
  // Time passes: ticks the core once per tick interval elapsed (once only
  // after a stall, so that missed ticks do not fire election timeouts all
  // at once), expires reads and transfers past their deadline.
  void advance_time(NodeTime now);
  void receive(pb::Message message);
  // A proposal still waiting at `deadline` when the node gets to it is not
  // proposed (kExpired): its caller has given up.
  void propose(std::string command, ProposalDone done, NodeTime deadline);
  void read_index(ReadDone done);
  void change_membership(const MembershipChange& change, ProposalDone done);
  void transfer_leadership(NodeId target, TransferDone done);
  // The DiskWrite in flight is done (or failed).
  void write_done(DiskWriteResult result);
  // The state machine's snapshot, written out and committed to the snapshot
  // store, can replace the log up to its index.
  void snapshot_taken(pb::SnapshotMetadata snapshot);
  // Stops the node: everything pending and everything after fails with
  // `error`.
  void stop(const Error& error);

  // ----- outputs -----
  // Inputs only feed the core; the core's next Ready is carried out when
  // the driver takes the output -- so a driver that feeds everything that
  // queued up and then takes the output gets one write for all of it.
  NodeOutput take_output();
  bool has_output() const;
  // When advance_time() should next be called.
  NodeTime next_deadline() const;

  // ----- state -----
  const Core& core() const { return *core_; }
  bool writing() const { return writing_; }
  // The node stopped itself (its disk failed) or was stopped.
  bool failed() const { return stopped_.has_value(); }
  const std::optional<Error>& stop_reason() const { return stopped_; }
  bool removed() const { return core_->removed(); }
  // The configuration in force (the latest in the log) and whether it is committed.
  std::shared_ptr<const pb::Configuration> configuration() const { return configuration_; }
  std::size_t pending_proposals() const { return pending_proposals_.size(); }
  std::size_t pending_reads() const { return pending_reads_.size(); }

  // Checks the node's own invariants (LogCabin's RaftConsensusInvariants
  // is the model): "" when they hold, else the first one broken. Cheap
  // enough to run after every step in tests and the simulation.
  std::string check_invariants() const;

 private:
  struct Propose {
    std::string command;
    ProposalDone done;
    NodeTime deadline;
  };
  struct Read {
    ReadDone done;
  };
  struct ChangeMembership {
    MembershipChange change;
    ProposalDone done;
  };
  struct Transfer {
    NodeId target;
    TransferDone done;
  };
  struct SnapshotTaken {
    pb::SnapshotMetadata snapshot;
  };
  // Inputs held while a write is in flight, fed in order once it is done.
  using Held = std::variant<pb::Message, Propose, Read, ChangeMembership, Transfer, SnapshotTaken>;

  struct PendingRead {
    NodeTime deadline;
    ReadDone done;
  };
  struct PendingTransfer {
    NodeId target = kNoNode;
    NodeTime deadline;
    TransferDone done;
  };

  void feed(Held input);
  void track(Result<ProposalTicket> ticket, ProposalDone done);
  void start_transfer(Transfer& transfer);
  void record_snapshot(const pb::SnapshotMetadata& snapshot);
  // Hands the core's next Ready out, when no write is in flight.
  void pump();
  // Fills in what the core left out of a message; false: drop it.
  bool fill(pb::Message& message);
  void after_step();
  void note_membership();
  void check_transfer();
  void expire(NodeTime now);
  // Fails every pending read, and the pending proposals after index
  // `keep_through`.
  void fail_pending(const Error& error, Index keep_through = 0);
  static void refuse(Held& input, const Error& error);

  const NodeOptions options_;
  Storage& storage_;
  SnapshotStore& snapshots_;
  std::unique_ptr<Core> core_;
  NodeTime now_;
  NodeTime next_tick_;
  bool tick_held_ = false;  // a tick came due while a write was in flight

  NodeOutput output_;
  bool writing_ = false;
  std::optional<Ready> ready_in_flight_;  // the Ready the write in flight carries, if any
  std::deque<Held> held_;

  std::map<Index, PendingProposal> pending_proposals_;
  std::map<std::uint64_t, PendingRead> pending_reads_;
  std::uint64_t next_read_id_ = 1;
  std::optional<PendingTransfer> transfer_;
  std::optional<Error> stopped_;

  std::shared_ptr<const pb::Configuration> configuration_;
  std::uint64_t configuration_version_ = 0;
  Index committed_configuration_index_ = 0;
  bool removal_noted_ = false;
  std::optional<SoftState> last_soft_state_;
};

}  // namespace raft
