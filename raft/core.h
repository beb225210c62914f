#pragma once
// raft::Core: the Raft algorithm as a deterministic state machine.
//
// It has no threads, reads no clock and does no I/O. The driver feeds it
// inputs (ticks, messages from peers, proposals, read requests) and collects
// its outputs as a Ready (see ready.h): state and entries to persist, messages
// to send, committed entries to apply and reads that became safe. Because it
// is a pure function of its inputs and config.random_seed, the simulation in
// tests/sim can run the real algorithm under any fault schedule and replay it.
//
// Rules from the Raft paper (Ongaro & Ousterhout 2014, "the paper") and
// Ongaro's dissertation are cited where they are applied.

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "raft/core_config.h"
#include "raft/follower_progress.h"
#include "raft/membership_history.h"
#include "raft/raft_log.h"
#include "raft/random.h"
#include "raft/ready.h"
#include "raft/result.h"
#include "raft/types.h"

namespace raft {

// Where a proposal landed in the log. It is committed when an entry with
// this index and term is applied; an entry with another term at the same
// index means the proposal was lost to a leader change.
struct ProposalTicket {
  Index index = 0;
  Term term = 0;
};

// What a node restarts from: its persisted state, and how far its state
// machine had durably applied (at least up to the snapshot's index).
struct RestoredState {
  pb::HardState hard_state;
  pb::SnapshotMetadata snapshot;  // the latest snapshot; index 0 when none
  pb::LogBase log_base;           // the log holds the entries after it
  std::vector<pb::Entry> entries;
  Index applied = 0;
};

class Core {
 public:
  explicit Core(CoreConfig config, RestoredState restored = {});

  // ---- inputs ----
  // One unit of logical time.
  void tick();
  // A message from a peer.
  void step(const pb::Message& message);
  // Appends a command to the log if this node is the leader.
  Result<ProposalTicket> propose(std::string command);
  // Requests a linearizable read (§6.4). Its answer is a ReadState with the
  // same request_id in a later Ready: on a follower, the request is
  // forwarded to the leader.
  void read_index(std::uint64_t request_id);
  // Proposes a membership change (dissertation §4.1) if this node is the
  // leader. Refused with kFailedPrecondition while the leader has not
  // committed an entry of its own term yet (the fix of §4.1 that keeps a
  // change from a previous term and one of this term from both taking
  // effect), while another change is uncommitted, when a learner to be
  // promoted has not caught up, or when the change itself makes no sense
  // (Membership::apply). Like a command, it is done when its entry applies.
  Result<ProposalTicket> change_membership(const MembershipChange& change);
  // Hands leadership to `target` (dissertation §3.10).
  Status transfer_leadership(NodeId target);
  // Starts an election now, as if the election timeout had elapsed.
  void campaign();
  // Log compaction (§7): the driver made `snapshot` of the state machine
  // durable. It becomes what this node sends to followers that lag behind
  // the log, and the log is compacted up to `through` (at most the
  // snapshot's index; less keeps entries for followers that are only a
  // little behind).
  void compact(const pb::SnapshotMetadata& snapshot, Index through);
  // The driver checked the snapshot whose last chunk it was handed in a
  // Ready: `intact` when every byte arrived unharmed. An intact snapshot is
  // installed (Ready::snapshot); a damaged one is requested again.
  void snapshot_received(Index index, bool intact);

  // ---- outputs ----
  bool has_ready() const;
  // Takes the pending outputs. Every ready() must be followed by advance()
  // with the same Ready before the core receives any other input.
  Ready ready();
  void advance(const Ready& ready);

  // ---- observers ----
  NodeId id() const { return config_.id; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId voted_for() const { return vote_; }
  NodeId leader() const { return leader_; }
  const RaftLog& log() const { return log_; }
  // The highest index this node knows the cluster committed: its own commit
  // index, or a leader's (from AppendEntries) when that is higher because
  // this log lags. Committed stays committed, so it only grows; a node far
  // below it is catching up (health checks use the difference).
  Index known_cluster_commit() const { return std::max(leader_commit_, log_.committed()); }
  const CoreConfig& config() const { return config_; }
  const std::map<NodeId, FollowerProgress>& followers() const { return followers_; }
  NodeId transfer_target() const { return transfer_target_; }
  int randomized_election_timeout() const { return randomized_election_timeout_; }
  // The configuration in force: the latest in this node's log.
  const Membership& membership() const { return memberships_.latest(); }
  const MembershipHistory& memberships() const { return memberships_; }
  bool is_voter(NodeId node) const { return membership().is_voter(node); }
  // This node was a member of a committed configuration and a later
  // committed one left it out, or a voter told it so (RequestVoteResponse.
  // requester_removed). A removed node never campaigns again.
  bool removed() const { return removed_; }
  // Why the term last changed, and why this node last campaigned, in words
  // for the operator's log ("leader 1 handed leadership over", "no word from
  // leader 1 for an election timeout (12 ticks)").
  const std::string& term_reason() const { return term_reason_; }
  const std::string& campaign_reason() const { return campaign_reason_; }
  // A learner to be promoted must be this close to the leader's last index,
  // in entries: one AppendEntries' worth.
  bool caught_up(NodeId follower) const;
  const pb::SnapshotMetadata& snapshot() const { return snapshot_; }

 private:
  struct PendingRead {
    std::uint64_t request_id = 0;
    NodeId requester = kNoNode;
    Index index = 0;
    std::uint64_t round = 0;
  };

  // ---- role transitions (core.cc) ----
  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate(bool leadership_transfer);
  void become_leader();
  void reset_election_timer();
  // RequestVote (§5.2) for `term` to every other voter, with this log's end.
  void request_votes(Term term, bool pre_vote, bool leadership_transfer);

  // ---- message handling (core.cc) ----
  void reject_stale(const pb::Message& message);
  void step_follower(const pb::Message& message);
  void step_candidate(const pb::Message& message);
  void step_leader(const pb::Message& message);
  void handle_request_vote(const pb::Message& message);
  void handle_vote_response(const pb::Message& message);
  void tick_election();
  void tick_leader();
  bool heard_from_leader_recently() const;
  bool in_leader_lease() const;
  bool quorum_recently_active() const;

  // ---- membership (core_membership.cc) ----
  bool requester_was_removed(const pb::Message& request) const;
  void ask_whether_removed();
  void answer_removed_requester(const pb::Message& request);
  // Peers, followers' progress and any transfer follow the latest
  // configuration; called whenever it may have changed.
  void adopt_latest_membership();
  // Configurations carried by entries a follower just appended after
  // `prev_index`: they replace any the log lost there.
  void record_appended_configurations(const pb::AppendEntries& append, Index last_new);
  // The commit index moved: see whether this node was removed.
  void note_commit();
  // A leader whose removal committed hands over and steps down (§4.2.2).
  void step_down_if_removed();

  // ---- replication (core_replication.cc) ----
  bool acceptable_entries(const pb::Message& message) const;
  void handle_append_entries(const pb::Message& message);
  void handle_append_entries_response(const pb::Message& message);
  void send_append(NodeId to, bool send_if_empty);
  void broadcast_append();
  void broadcast_heartbeat();
  void send_timeout_now(NodeId to);
  bool maybe_commit();

  // ---- snapshots (core_snapshots.cc) ----
  void send_snapshot_chunk(NodeId to);
  void handle_install_snapshot(const pb::Message& message);
  void handle_install_snapshot_response(const pb::Message& message);
  // True (and answers the leader) when the log already holds everything
  // `snapshot` covers, so it need not be installed.
  bool already_covered(const pb::SnapshotMetadata& snapshot, NodeId leader);
  void answer_snapshot(NodeId leader, Index index, std::uint64_t next_offset, bool done);

  // ---- linearizable reads (core_reads.cc) ----
  void handle_read_request(std::uint64_t request_id, NodeId requester);
  void start_read(PendingRead read);
  void release_confirmed_reads();
  void complete_read(const PendingRead& read, bool ok);
  void fail_pending_reads();
  // Reads wait to be forwarded, none are in flight, and a leader is known.
  bool reads_can_be_forwarded() const;
  void forward_reads();  // sends the waiting reads if they can be
  void handle_read_index_response(const pb::Message& message);
  void finish_forwarded_reads(Index index, bool ok);
  void tick_forwarded_reads();
  void take_over_forwarded_reads();  // on becoming leader: serve them here
  bool committed_in_current_term() const;

  // ---- output helpers ----
  SoftState soft_state() const;
  bool term_or_vote_changed() const;  // since the last Ready
  bool hard_state_changed() const;
  pb::Message message_to(NodeId to, Term term) const;
  void send(pb::Message message);
  void flush_deferred_sends();

  CoreConfig config_;
  DeterministicRandom random_;
  std::vector<NodeId> peers_;        // members other than this node: whom a leader replicates to
  std::vector<NodeId> voter_peers_;  // voters other than this node: whom a candidate asks

  // Persistent state (Figure 2), written through hard_state in a Ready.
  Term term_ = 0;
  NodeId vote_ = kNoNode;
  RaftLog log_;
  // The latest durable snapshot: what a lagging follower is sent.
  pb::SnapshotMetadata snapshot_;
  // The configurations in the log (§4.1), above the snapshot's.
  MembershipHistory memberships_;
  bool was_member_ = false;  // of a committed configuration
  bool removed_ = false;
  bool leader_removed_ = false;  // step down at the next ready()

  // Follower: the snapshot being received, chunk by chunk.
  struct IncomingSnapshot {
    pb::SnapshotMetadata snapshot;
    NodeId leader = kNoNode;
    std::uint64_t received = 0;
    bool complete = false;  // every chunk is in; the driver is checking it
  };
  std::optional<IncomingSnapshot> incoming_;

  Role role_ = Role::kFollower;
  NodeId leader_ = kNoNode;
  Index leader_commit_ = 0;  // the highest leaderCommit heard; see known_cluster_commit()
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  std::string term_reason_;
  std::string campaign_reason_;
  std::map<NodeId, bool> votes_;  // candidate and pre-candidate: answers so far

  // Leader state.
  std::map<NodeId, FollowerProgress> followers_;
  NodeId transfer_target_ = kNoNode;
  bool broadcast_pending_ = false;  // new entries or a new commit index to send, batched until ready()
  std::uint64_t read_round_ = 0;
  bool read_round_pending_ = false;  // a new ReadIndex round to confirm at ready()
  std::vector<PendingRead> reads_awaiting_commit_;
  std::deque<PendingRead> reads_awaiting_quorum_;

  // Follower (and candidate): reads forwarded to the leader, batched. At
  // most one ReadIndex request is in flight; reads that arrive meanwhile
  // wait for the next one (they began after the first was sent, so its
  // answer cannot serve them). The request carries the first read's id,
  // which the driver keeps unique, so a late answer to a request from before
  // a restart matches nothing.
  struct ForwardedReads {
    NodeId leader = kNoNode;
    int ticks = 0;  // since it was sent; given up after an election timeout
    std::vector<std::uint64_t> request_ids;
  };
  std::optional<ForwardedReads> forwarded_reads_;
  std::vector<std::uint64_t> reads_to_forward_;

  // Outputs accumulated since the last ready().
  std::vector<pb::Message> messages_;
  std::vector<pb::Message> messages_after_persist_;
  std::vector<pb::InstallSnapshot> snapshot_chunks_;
  std::optional<pb::SnapshotMetadata> snapshot_to_install_;
  std::vector<ReadState> read_states_;
  pb::HardState last_hard_state_;
  SoftState last_soft_state_;
  bool ready_outstanding_ = false;
};

}  // namespace raft
