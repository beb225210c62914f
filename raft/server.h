#pragma once
// raft::Server: runs a raft::Node with a real clock and threads over the
// pluggable seams -- Storage, Transport, Discovery and StateMachine -- and
// offers applications a replicated state machine:
//
//   auto applied = server.propose("command").get();   // Result<Applied>
//   auto index = server.read_index().get();            // Result<Index>
//
// The Node (raft/node.h) carries out the Raft algorithm's Ready contract;
// the Server only gives it threads, queues and the clock. The raft loop
// owns the Node: it feeds it every input that queued up, sends what it
// asks to send, does the disk write it asks for (DiskWriter) and reports
// it done; inputs that arrive during the write are fed together next, so
// one write carries them all (group commit). The apply loop runs the
// Applier (raft/applier.h) on the state machine, so a slow state machine
// never delays heartbeats or votes.
//
// Log compaction (§7): after options.snapshot_entries entries (or
// snapshot_bytes of commands) applied since the last snapshot, the apply
// loop takes a view of the state machine and a third thread writes it to the
// SnapshotStore; then the Node records it and compacts the log (keeping
// compaction_margin entries). Followers that need deleted entries receive
// the snapshot in chunks, checked end to end before their state machine
// restores from it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "raft/applier.h"
#include "raft/core.h"
#include "raft/discovery.h"
#include "raft/disk_writer.h"
#include "raft/node.h"
#include "raft/result.h"
#include "raft/server_metrics.h"
#include "raft/snapshot_store.h"
#include "raft/state_machine.h"
#include "raft/storage.h"
#include "raft/transport.h"

namespace raft {

struct ServerOptions {
  // The core's settings: core.id names this node; core.voters is filled in
  // from Discovery at start(); a zero core.random_seed draws one from the OS.
  CoreConfig core;
  // The length of one tick: with the defaults (10 and 2 ticks) elections
  // time out after 0.5-1 s and heartbeats go every 100 ms.
  std::chrono::milliseconds tick_interval{50};
  // A read whose leadership check gets no answer fails after this long;
  // zero means four minimum election timeouts.
  std::chrono::milliseconds read_timeout{0};
  // Take a snapshot and compact the log after this many entries, or this
  // many bytes of commands, applied since the last one; 0 disables either.
  std::uint64_t snapshot_entries = 100'000;
  std::uint64_t snapshot_bytes = 64 << 20;
  // Entries kept before a snapshot's index when compacting, so that a
  // follower only a little behind catches up from the log, not a snapshot.
  std::uint64_t compaction_margin = 5'000;
  // How a node with empty storage starts. Bootstrapping (the default), it
  // founds a new cluster whose voters are the discovered members, which
  // must include it: it writes that configuration as the first log entry,
  // so every founding member starts from the same one. Joining, it starts
  // with no configuration and waits, never campaigning, for the leader of
  // an existing cluster that added it (change_membership) to send it the
  // log; discovery then only says where the existing members are. With a
  // log or snapshot already on disk neither matters: the configuration is
  // in there.
  bool join_existing_cluster = false;
  // Where the founders serve the application's clients, when known: written
  // into the founding configuration (Member.client_address) with their peer
  // addresses, so that a member added later learns them from the log as it
  // learns everything else. Like the discovered members, every founder must
  // be given the same.
  std::map<NodeId, std::string> founder_client_addresses;
  // Founding a cluster from a backup: a bootstrapping node with empty
  // storage starts from this state instead of an empty one. It becomes a
  // snapshot at `index`, term 1, carrying the founders' configuration, and
  // the log continues after it -- so every founder given the same blocks
  // holds the same snapshot, and a member added later receives the data by
  // InstallSnapshot. `write` writes the state machine's blocks, in order.
  struct FoundingState {
    Index index = 1;
    std::function<Status(SnapshotSink& sink)> write;
  };
  std::optional<FoundingState> founding_state;
  // A leadership transfer that has not completed after this long is
  // reported as failed; zero means three maximum election timeouts.
  std::chrono::milliseconds transfer_timeout{0};
  // Back-pressure: proposals waiting here to be applied (queued, in the log
  // uncommitted, or committed and not yet applied), by count and by bytes
  // of command. Beyond either, propose() fails at once with kOverloaded,
  // so a leader facing more clients than it can serve keeps its latency
  // and memory bounded and tells the surplus to back off, instead of
  // queueing without end. (Generous defaults for a library; raftkvd sets
  // its own, --max-pending-proposals and --max-pending-mb.)
  std::size_t max_pending_proposals = 16384;
  std::size_t max_pending_bytes = 256 << 20;
  // Called once, on the raft thread, when the node stops itself because a
  // write to its storage or its state machine failed: from then on it
  // acknowledges nothing, votes for nobody and fails every request. A
  // daemon exits then, so that a supervisor restarts it on its data (or an
  // operator looks at the disk) instead of leaving a silent member up.
  std::function<void(const Error&)> on_fault;
  // Checks the node's own invariants (Node::check_invariants) after every
  // step and aborts with the broken one: for tests.
  bool check_invariants = false;
};

struct FollowerStatus {
  NodeId id = kNoNode;
  Index match_index = 0;
  Index next_index = 0;
  ReplicationMode mode = ReplicationMode::kProbe;
};

struct ServerStatus {
  NodeId id = kNoNode;
  // The configuration in force here (the latest in the log; shared, as it
  // rarely changes), where its entry is, and whether that entry is committed.
  std::shared_ptr<const pb::Configuration> configuration;
  Index configuration_index = 0;
  bool configuration_committed = false;
  // A committed configuration left this node out (Core::removed()).
  bool removed = false;
  Role role = Role::kFollower;
  Term term = 0;
  NodeId leader = kNoNode;
  Index commit_index = 0;
  Index applied_index = 0;
  Index cluster_commit_index = 0;  // Core::known_cluster_commit(): >= commit_index
  Index last_log_index = 0;
  Index first_log_index = 0;
  Index snapshot_index = 0;
  std::vector<FollowerStatus> followers;  // on the leader only
  bool running = false;
};

class Server {
 public:
  Server(ServerOptions options, std::shared_ptr<Storage> storage, std::shared_ptr<SnapshotStore> snapshots,
         std::shared_ptr<Transport> transport, std::shared_ptr<Discovery> discovery,
         std::shared_ptr<StateMachine> state_machine);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads persisted state (restoring the state machine from the latest
  // snapshot if it is behind it), learns the members and starts the threads.
  Status start();

  // Replicates `command`; the future holds its index and the state
  // machine's result once applied here, or an error: kNotLeader (with the
  // leader's id when known), kProposalDropped if another leader overwrote
  // it, kStopped, kOverloaded (over ServerOptions::max_pending_*; not
  // proposed). A proposal accepted by a leader that then loses contact
  // stays pending until its index commits here, one way or the other; wait
  // with a deadline, and treat a timeout as "outcome unknown", not "failed".
  std::future<Result<Applied>> propose(std::string command);
  // The same, with `done` called instead (once, on one of the server's
  // threads -- usually the apply thread -- so it must be quick and must not
  // call back into the server and wait). For callers that serve many
  // requests without a thread waiting on each. A proposal still queued at
  // `deadline` (its caller gave up) is never proposed: kExpired.
  using ProposalDone = raft::ProposalDone;
  void propose(std::string command, ProposalDone done,
               std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());

  // A linearizable read point (§6.4): once the future holds an index, this
  // node's state machine has applied at least that far, and reading it
  // reflects every write committed before read_index() was called.
  std::future<Result<Index>> read_index();
  // The same, with `done` called instead (once, on one of the server's
  // threads -- usually the apply thread, right after applying up to the
  // index -- so it must be quick and must not call back into the server and
  // wait).
  using ReadDone = raft::ReadDone;
  void read_index(ReadDone done);

  // Proposes a membership change (Core::change_membership); done, like a
  // proposal, when its entry is applied here. New members' peer addresses
  // travel in the configuration, so every member can reach them.
  std::future<Result<Applied>> change_membership(MembershipChange change);

  // Hands leadership to `target` (§3.10). Completes when `target` leads,
  // or fails: kInvalidArgument (not a voter), kNotLeader, or kTimeout when
  // the target did not catch up and take over within an election timeout
  // (a lagging or unreachable target) -- the message says how far behind.
  std::future<Status> transfer_leadership(NodeId target);

  ServerStatus status() const;
  // Counters and timings since start (raft/server_metrics.h); read them at
  // any time from any thread.
  const ServerMetrics& metrics() const { return metrics_; }
  // Proposals admitted and not answered yet, and their bytes of command.
  std::size_t pending_proposals() const { return pending_count_.load(std::memory_order_relaxed); }
  std::size_t pending_proposal_bytes() const { return pending_bytes_.load(std::memory_order_relaxed); }
  // Core::removed(), without copying the status: cheap enough to ask per request.
  bool removed() const { return removed_.load(std::memory_order_relaxed); }
  // The commit index this node found on its disk at start (within its log):
  // before a crash its state machine had applied at most this far, and it
  // may have answered reads from all of it. Until the state machine has
  // replayed this far again, its own state is older than what it showed
  // before, so a caller serving reads from it should wait (0 before start).
  Index recovered_commit_index() const { return recovered_commit_index_.load(std::memory_order_relaxed); }

  // Waits until this node knows a leader (itself included) or `deadline`
  // passes; returns the leader, or kNoNode. Lets a request that arrives
  // mid-election wait for its outcome instead of failing at once.
  NodeId wait_for_leader(std::chrono::steady_clock::time_point deadline) const;

  // Stops the threads; pending requests fail with kStopped. Idempotent.
  void stop();

 private:
  struct ProposeRequest {
    std::string command;
    ProposalDone done;
    std::chrono::steady_clock::time_point deadline;
  };
  struct ReadRequest {
    ReadDone done;
  };
  struct TransferRequest {
    NodeId target;
    std::promise<Status> promise;
  };
  struct MembershipRequest {
    MembershipChange change;
    ProposalDone done;
  };
  // A snapshot was written out and committed to the SnapshotStore.
  struct SnapshotTaken {
    pb::SnapshotMetadata snapshot;
  };
  using Input = std::variant<pb::Message, ProposeRequest, ReadRequest, TransferRequest, MembershipRequest,
                             SnapshotTaken>;

  void enqueue(Input input);
  // Answers a request that will never reach the node with `error`.
  static void refuse(Input& input, const Error& error);
  void raft_loop();
  void feed(Input& input);
  // Carries out what the node asked for until it asks for nothing more.
  void drain();
  void write(const DiskWrite& write);
  void update_transport_peers();
  void log_role_change(const SoftState& now);
  // bootstrap() from ServerOptions::founding_state.
  Status found_from_state(PersistentState& state, const pb::Configuration& configuration);
  Status bootstrap(PersistentState& state, const std::vector<Peer>& founders);
  void publish_status();
  void publish_not_running();  // after stop(), or when the node stopped itself
  void fail_everything(const Error& error);
  void apply_loop();
  void maybe_take_snapshot();

  const ServerOptions options_;
  const std::shared_ptr<Storage> storage_;
  const std::shared_ptr<SnapshotStore> snapshots_;
  const std::shared_ptr<Transport> transport_;
  const std::shared_ptr<Discovery> discovery_;
  const std::shared_ptr<StateMachine> state_machine_;

  // Owned by the raft loop thread once started.
  std::unique_ptr<Node> node_;
  std::unique_ptr<DiskWriter> disk_writer_;
  DiscoveryWatch discovery_watch_;  // hands new member addresses to the transport
  std::atomic<bool> removed_{false};
  std::atomic<Index> recovered_commit_index_{0};
  ServerMetrics metrics_;
  // Admitted proposals not answered yet (ServerOptions::max_pending_*).
  std::atomic<std::size_t> pending_count_{0};
  std::atomic<std::size_t> pending_bytes_{0};
  NodeId last_leader_seen_ = kNoNode;  // raft thread: for metrics_.leader_changes
  Term last_term_logged_ = 0;          // raft thread: say why, once per term

  std::mutex peers_mutex_;  // discovery's thread and the raft loop both update the transport
  std::vector<Peer> discovered_;
  std::vector<Peer> configured_;

  std::mutex inbox_mutex_;
  std::condition_variable inbox_ready_;
  std::vector<Input> inbox_;
  bool stopping_ = false;

  // The apply loop's; `applier_` is used on that thread only (after start()).
  std::unique_ptr<Applier> applier_;
  std::mutex apply_mutex_;
  std::condition_variable apply_ready_;
  std::deque<ApplyWork> apply_queue_;
  bool apply_stopping_ = false;
  bool snapshot_finished_ = false;  // the apply loop should see if another is due
  std::atomic<Index> applied_index_{0};
  std::atomic<bool> apply_failed_{false};
  std::thread snapshot_thread_;  // writes one snapshot at a time

  mutable std::mutex status_mutex_;
  mutable std::condition_variable status_changed_;
  ServerStatus status_;

  std::mutex lifecycle_mutex_;
  bool started_ = false;
  bool stopped_ = false;
  std::thread raft_thread_;
  std::thread apply_thread_;
};

}  // namespace raft
