// Raft core: construction, the Ready hand-off, elections and message dispatch.
// Replication lives in core_replication.cc, ReadIndex in core_reads.cc.

#include "raft/core.h"

#include <algorithm>
#include <cassert>
#include <stdexcept>

#include "raft/quorum.h"

namespace raft {

namespace {

// What a node starts from: the snapshot's configuration, or (in a new
// cluster, or a node that has yet to join one) the configured voters.
Membership base_membership(const CoreConfig& config, const pb::SnapshotMetadata& snapshot) {
  const pb::Configuration& recorded = snapshot.configuration();
  if (recorded.voters_size() > 0) return Membership(recorded);
  return Membership::of_voters(config.voters);
}

}  // namespace

Core::Core(CoreConfig config, RestoredState restored)
    : config_(std::move(config)),
      random_(config_.random_seed ^ (config_.id * 0x9e3779b97f4a7c15ULL)),
      term_(restored.hard_state.term()),
      vote_(restored.hard_state.vote()),
      log_(restored.log_base.index(), restored.log_base.term(), std::move(restored.entries),
           restored.hard_state.commit(), restored.applied),
      snapshot_(std::move(restored.snapshot)),
      memberships_(snapshot_.index(), base_membership(config_, snapshot_)) {
  if (config_.id == kNoNode) throw std::invalid_argument("node id must not be 0");
  if (log_.base_index() > snapshot_.index() || snapshot_.index() > log_.last_index()) {
    throw std::invalid_argument("the log (entries " + std::to_string(log_.first_index()) + " to " +
                                std::to_string(log_.last_index()) + ") does not continue snapshot " +
                                std::to_string(snapshot_.index()));
  }
  if (restored.applied < snapshot_.index()) {
    throw std::invalid_argument("the state machine (applied " + std::to_string(restored.applied) +
                                ") is behind snapshot " + std::to_string(snapshot_.index()));
  }
  if (config_.election_ticks <= config_.heartbeat_ticks || config_.heartbeat_ticks <= 0) {
    throw std::invalid_argument("need 0 < heartbeat_ticks < election_ticks");
  }
  if (config_.max_inflight_appends == 0) throw std::invalid_argument("max_inflight_appends must be > 0");
  for (Index index = snapshot_.index() + 1; index <= log_.last_index(); ++index) {
    const pb::Entry& entry = log_.at(index);
    if (entry.type() != pb::ENTRY_CONFIGURATION) continue;
    Result<Membership> membership = Membership::parse(entry.data());
    if (!membership.ok()) {
      throw std::invalid_argument("log entry " + std::to_string(index) + ": " + membership.error().message);
    }
    memberships_.append(index, std::move(membership).value());
  }
  for (const auto& [index, membership] : memberships_.all()) {
    if (index <= log_.committed() && membership.is_member(config_.id)) was_member_ = true;
  }
  log_.limit_payload_bytes(config_.log_payload_cache_bytes);
  adopt_latest_membership();
  note_commit();
  last_hard_state_ = restored.hard_state;
  last_hard_state_.set_commit(log_.committed());
  become_follower(term_, kNoNode);
  last_soft_state_ = soft_state();
}

// ---------------------------------------------------------------- outputs --

pb::Message Core::message_to(NodeId to, Term term) const {
  pb::Message message;
  message.set_from(config_.id);
  message.set_to(to);
  message.set_term(term);
  return message;
}

void Core::send(pb::Message message) {
  // What a leader sends to replicate depends only on state that was made
  // durable before it became leader, so it may leave before the leader's own
  // disk write completes (dissertation §10.2.1). Everything else -- votes,
  // vote requests, acknowledgements -- promises durable state and must wait.
  const bool leader_traffic =
      role_ == Role::kLeader && (message.has_append_entries() || message.has_install_snapshot() ||
                                 message.has_timeout_now() || message.has_read_index_response());
  (leader_traffic ? messages_ : messages_after_persist_).push_back(std::move(message));
}

void Core::flush_deferred_sends() {
  if (role_ != Role::kLeader) {
    broadcast_pending_ = false;
    read_round_pending_ = false;
    return;
  }
  if (broadcast_pending_) {
    broadcast_pending_ = false;
    broadcast_append();
  }
  if (read_round_pending_) {
    // One heartbeat round confirms every read queued since the last one: the
    // batching of dissertation §6.4 that keeps reads cheap under load.
    read_round_pending_ = false;
    ++read_round_;
    if (!peers_.empty()) broadcast_heartbeat();
    release_confirmed_reads();  // at once when this node is the only voter
  }
}

bool Core::term_or_vote_changed() const {
  return term_ != last_hard_state_.term() || vote_ != last_hard_state_.vote();
}

bool Core::hard_state_changed() const {
  return term_or_vote_changed() || log_.committed() != last_hard_state_.commit();
}

SoftState Core::soft_state() const {
  return SoftState{role_, leader_, term_};
}

bool Core::has_ready() const {
  if (broadcast_pending_ || read_round_pending_ || leader_removed_) return true;
  if (!messages_.empty() || !messages_after_persist_.empty() || !read_states_.empty()) return true;
  if (!snapshot_chunks_.empty() || snapshot_to_install_) return true;
  if (reads_can_be_forwarded()) return true;
  if (log_.stable_index() < log_.last_index() || log_.has_entries_to_apply()) return true;
  return soft_state() != last_soft_state_ || hard_state_changed();
}

Ready Core::ready() {
  assert(!ready_outstanding_ && "ready() called twice without advance()");
  step_down_if_removed();
  forward_reads();
  flush_deferred_sends();
  Ready ready;
  if (soft_state() != last_soft_state_) ready.soft_state = soft_state();
  if (hard_state_changed()) {
    pb::HardState hard;
    hard.set_term(term_);
    hard.set_vote(vote_);
    hard.set_commit(log_.committed());
    ready.hard_state = hard;
  }
  ready.entries = log_.unstable_entries();
  // A changed commit index alone need not be synced: it can be re-learned.
  ready.must_sync = !ready.entries.empty() || term_or_vote_changed();
  ready.messages = std::move(messages_);
  ready.snapshot_chunks = std::move(snapshot_chunks_);
  ready.snapshot = std::move(snapshot_to_install_);
  ready.messages_after_persist = std::move(messages_after_persist_);
  ready.committed_entries = log_.entries_to_apply(config_.max_apply_bytes_per_ready);
  ready.read_states = std::move(read_states_);
  messages_.clear();
  snapshot_chunks_.clear();
  snapshot_to_install_.reset();
  messages_after_persist_.clear();
  read_states_.clear();
  ready_outstanding_ = true;
  return ready;
}

void Core::advance(const Ready& ready) {
  assert(ready_outstanding_);
  ready_outstanding_ = false;
  if (ready.soft_state) last_soft_state_ = *ready.soft_state;
  if (ready.hard_state) last_hard_state_ = *ready.hard_state;
  if (!ready.committed_entries.empty()) log_.mark_applied(ready.committed_entries.back().index());
  if (!ready.entries.empty()) {
    log_.mark_stable(ready.entries.back().index());
    // The leader counts itself towards a majority only now that its own
    // copy is durable (§10.2.1).
    if (role_ == Role::kLeader && maybe_commit()) broadcast_pending_ = true;
  }
}

// ------------------------------------------------------------ transitions --

void Core::reset_election_timer() {
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  randomized_election_timeout_ =
      static_cast<int>(random_.uniform(static_cast<std::uint64_t>(config_.election_ticks),
                                       2 * static_cast<std::uint64_t>(config_.election_ticks)));
}

void Core::become_follower(Term term, NodeId leader) {
  if (role_ == Role::kLeader) fail_pending_reads();
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
  }
  role_ = Role::kFollower;
  leader_ = leader;
  votes_.clear();
  followers_.clear();
  transfer_target_ = kNoNode;
  reset_election_timer();
}

void Core::request_votes(Term term, bool pre_vote, bool leadership_transfer) {
  for (NodeId peer : voter_peers_) {
    pb::Message message = message_to(peer, term);
    auto* request = message.mutable_request_vote();
    request->set_last_log_index(log_.last_index());
    request->set_last_log_term(log_.last_term());
    request->set_pre_vote(pre_vote);
    request->set_leadership_transfer(leadership_transfer);
    send(std::move(message));
  }
}

void Core::ask_whether_removed() {
  reset_election_timer();
  request_votes(term_ + 1, /*pre_vote=*/true, /*leadership_transfer=*/false);
}

void Core::become_pre_candidate() {
  // Pre-vote (dissertation §9.6): ask whether we could win an election at
  // term + 1 without touching our term or vote, so that a node that was cut
  // off cannot disrupt a healthy cluster when it returns.
  role_ = Role::kPreCandidate;
  leader_ = kNoNode;
  votes_.clear();
  votes_[config_.id] = true;
  reset_election_timer();
  request_votes(term_ + 1, /*pre_vote=*/true, /*leadership_transfer=*/false);
  if (tally_votes(1, 0, membership().voters().size()) == VoteOutcome::kWon) become_candidate(false);
}

void Core::become_candidate(bool leadership_transfer) {
  // §5.2: increment currentTerm, vote for self, reset the election timer,
  // send RequestVote RPCs to all other servers.
  ++term_;
  term_reason_ = leadership_transfer ? "leader " + std::to_string(leader_) + " handed leadership to this node"
                 : role_ == Role::kPreCandidate ? campaign_reason_ + "; a majority granted its pre-vote"
                                                : campaign_reason_;
  vote_ = config_.id;
  role_ = Role::kCandidate;
  leader_ = kNoNode;
  votes_.clear();
  votes_[config_.id] = true;
  reset_election_timer();
  request_votes(term_, /*pre_vote=*/false, leadership_transfer);
  if (tally_votes(1, 0, membership().voters().size()) == VoteOutcome::kWon) become_leader();
}

void Core::become_leader() {
  assert(role_ == Role::kCandidate);
  role_ = Role::kLeader;
  leader_ = config_.id;
  votes_.clear();
  incoming_.reset();  // a leader holds every committed entry already (§5.4)
  reset_election_timer();
  followers_.clear();
  for (NodeId peer : peers_) {
    // Figure 2: nextIndex starts just after the leader's last entry,
    // matchIndex at 0; probing finds where the logs agree.
    followers_.emplace(peer, FollowerProgress(log_.last_index(), config_.max_inflight_appends));
  }
  // A new leader does not know which of its entries are committed until it
  // commits one of its own term (§5.4.2, §8): append a no-op to do so at once
  // rather than waiting for the next client command. ReadIndex depends on it.
  pb::Entry noop;
  noop.set_term(term_);
  noop.set_type(pb::ENTRY_NOOP);
  log_.append(std::move(noop));
  broadcast_pending_ = true;
  take_over_forwarded_reads();
}

void Core::campaign() {
  // Learners, nodes yet to join and removed nodes never campaign.
  if (role_ == Role::kLeader || !is_voter(config_.id) || removed_) return;
  if (config_.pre_vote) {
    become_pre_candidate();
  } else {
    become_candidate(false);
  }
}

// ------------------------------------------------------------------ ticks --

void Core::tick() {
  if (role_ == Role::kLeader) {
    tick_leader();
  } else {
    tick_forwarded_reads();
    tick_election();
  }
}

void Core::tick_election() {
  ++election_elapsed_;
  if (election_elapsed_ < randomized_election_timeout_) return;
  // §5.2: a follower that hears nothing from a leader or candidate for an
  // election timeout starts an election.
  if (is_voter(config_.id)) {
    campaign_reason_ = (leader_ != kNoNode         ? "no word from leader " + std::to_string(leader_)
                        : role_ == Role::kFollower ? std::string("no leader known")
                                                   : "no leader elected in term " + std::to_string(term_)) +
                       " for an election timeout (" + std::to_string(election_elapsed_) + " ticks)";
    campaign();
  } else if (was_member_ && !removed_) {
    // A member whose log says it is being removed, and that hears from no
    // leader, was probably removed and missed the commit. It cannot
    // campaign; it asks the voters instead (a pre-vote changes nothing on
    // them), whose answers -- or whose transports -- tell it if so.
    ask_whether_removed();
  }
}

void Core::tick_leader() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_ticks) {
    election_elapsed_ = 0;
    // Check-quorum (dissertation §6.2): a leader that has not heard from a
    // majority for an election timeout may have been deposed without
    // knowing; it steps down so its clients look for the real leader.
    if (config_.check_quorum && !quorum_recently_active()) {
      become_follower(term_, kNoNode);
      return;
    }
    for (auto& [peer, progress] : followers_) progress.recently_active = false;
    // §3.10: a transfer that has not finished within an election timeout
    // is abandoned, and the leader serves again.
    transfer_target_ = kNoNode;
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat();
  }
}

bool Core::quorum_recently_active() const {
  // Voters count; learners are never part of a majority.
  std::size_t active = is_voter(config_.id) ? 1 : 0;
  for (NodeId voter : voter_peers_) {
    if (followers_.at(voter).recently_active) ++active;
  }
  return active >= majority(membership().voters().size());
}

bool Core::heard_from_leader_recently() const {
  return leader_ != kNoNode && election_elapsed_ < config_.election_ticks;
}

bool Core::in_leader_lease() const {
  // §4.2.3: a server that has heard from a current leader within the minimum
  // election timeout does not grant votes or update its term for a vote
  // request, so a removed or partitioned server cannot depose a healthy leader.
  return config_.check_quorum && heard_from_leader_recently();
}

// --------------------------------------------------------------- messages --

void Core::step(const pb::Message& message) {
  if (message.to() != config_.id || message.from() == config_.id || message.from() == kNoNode) return;
  if (message.has_request_vote_response() && message.request_vote_response().requester_removed()) {
    // A voter of ours says a committed configuration left us out. Whatever
    // the terms, believing it only stops this node from campaigning.
    if (is_voter(message.from()) && !removed_) {
      removed_ = true;
      if (role_ != Role::kFollower) become_follower(term_, kNoNode);
    }
    return;
  }
  if (message.has_request_vote() && requester_was_removed(message)) {
    // Answered even within a leader lease, which otherwise silences vote
    // requests: a removed node that never heard of its removal would
    // otherwise campaign, unanswered, for ever.
    answer_removed_requester(message);
    return;
  }
  if (message.term() > term_) {
    if (message.has_request_vote()) {
      const pb::RequestVote& request = message.request_vote();
      if (!request.leadership_transfer() && in_leader_lease()) return;
      // A pre-vote request changes nothing here; a real one is the rule for
      // all servers: a larger term makes us a follower in that term.
      if (!request.pre_vote()) {
        term_reason_ = "node " + std::to_string(message.from()) + " asked for votes in it";
        become_follower(message.term(), kNoNode);
      }
    } else if (message.has_request_vote_response() && message.request_vote_response().pre_vote() &&
               message.request_vote_response().vote_granted()) {
      // A granted pre-vote echoes the term the pre-candidate proposed; no
      // server holds that term yet, so it is not news of a newer term.
    } else {
      // Rules for all servers (Figure 2, §5.1): if a request or response
      // contains term T > currentTerm, set currentTerm = T and convert to
      // follower. A message that only a leader sends also names the leader.
      const bool from_leader =
          message.has_append_entries() || message.has_install_snapshot() || message.has_timeout_now();
      term_reason_ = from_leader ? "node " + std::to_string(message.from()) + " leads it"
                                 : "node " + std::to_string(message.from()) + " is in it";
      become_follower(message.term(), from_leader ? message.from() : kNoNode);
    }
  } else if (message.term() < term_) {
    reject_stale(message);
    return;
  }

  if (message.has_request_vote()) {
    handle_request_vote(message);
    return;
  }
  switch (role_) {
    case Role::kFollower: step_follower(message); break;
    case Role::kPreCandidate:
    case Role::kCandidate: step_candidate(message); break;
    case Role::kLeader: step_leader(message); break;
  }
}

void Core::reject_stale(const pb::Message& message) {
  // §5.1: if a server receives a request with a stale term number, it
  // rejects the request. The reply carries our term, which makes a deposed
  // leader or candidate step down. Stale responses are simply dropped.
  pb::Message reply = message_to(message.from(), term_);
  if (message.has_append_entries()) {
    auto* response = reply.mutable_append_entries_response();
    response->set_success(false);
    response->set_rejected_index(message.append_entries().prev_log_index());
  } else if (message.has_request_vote()) {
    auto* response = reply.mutable_request_vote_response();
    response->set_vote_granted(false);
    response->set_pre_vote(message.request_vote().pre_vote());
  } else if (message.has_install_snapshot()) {
    reply.mutable_install_snapshot_response()->set_snapshot_index(
        message.install_snapshot().snapshot().index());
  } else if (message.has_read_index_request()) {
    reply.mutable_read_index_response()->set_request_id(message.read_index_request().request_id());
  } else {
    return;
  }
  send(std::move(reply));
}

void Core::handle_request_vote(const pb::Message& message) {
  const pb::RequestVote& request = message.request_vote();
  // RequestVote receiver (Figure 2): grant if votedFor is null or the
  // candidate, and the candidate's log is at least as up to date (§5.4.1).
  // A pre-vote for a later term promises nothing, so it needs no free vote,
  // only that no leader was heard from for an election timeout (§9.6).
  const bool can_vote = vote_ == message.from() || (vote_ == kNoNode && leader_ == kNoNode) ||
                        (request.pre_vote() && message.term() > term_ && !heard_from_leader_recently());
  const bool grant = can_vote && log_.is_up_to_date(request.last_log_index(), request.last_log_term());
  pb::Message reply = message_to(message.from(), grant && request.pre_vote() ? message.term() : term_);
  auto* response = reply.mutable_request_vote_response();
  response->set_vote_granted(grant);
  response->set_pre_vote(request.pre_vote());
  if (grant && !request.pre_vote()) {
    vote_ = message.from();
    // §5.2: granting a vote resets the election timer.
    election_elapsed_ = 0;
  }
  send(std::move(reply));
}

void Core::handle_vote_response(const pb::Message& message) {
  const pb::RequestVoteResponse& response = message.request_vote_response();
  if (!is_voter(message.from())) return;  // only voters' votes count
  // Answers to an earlier round (a pre-vote reaching a candidate) don't count.
  if (response.pre_vote() != (role_ == Role::kPreCandidate)) return;
  votes_.emplace(message.from(), response.vote_granted());
  // Counted against the configuration in force now: one appended since the
  // election began may have changed who votes.
  std::size_t granted = 0;
  std::size_t rejected = 0;
  for (const auto& [voter, yes] : votes_) {
    if (is_voter(voter)) (yes ? granted : rejected) += 1;
  }
  switch (tally_votes(granted, rejected, membership().voters().size())) {
    case VoteOutcome::kWon:
      if (role_ == Role::kPreCandidate) {
        become_candidate(false);
      } else {
        become_leader();  // §5.2: votes from a majority make a candidate leader
      }
      break;
    case VoteOutcome::kLost: become_follower(term_, kNoNode); break;
    case VoteOutcome::kPending: break;
  }
}

void Core::step_follower(const pb::Message& message) {
  if (message.has_append_entries()) {
    election_elapsed_ = 0;
    leader_ = message.from();
    handle_append_entries(message);
  } else if (message.has_install_snapshot()) {
    election_elapsed_ = 0;
    leader_ = message.from();
    handle_install_snapshot(message);
  } else if (message.has_timeout_now()) {
    // §3.10: the leader has caught us up and asks us to start an election
    // immediately, skipping pre-vote: it has already stepped aside.
    if (message.from() == leader_ && is_voter(config_.id)) become_candidate(true);
  } else if (message.has_read_index_request()) {
    // The requester believes we lead; we don't, so it must retry elsewhere.
    pb::Message reply = message_to(message.from(), term_);
    reply.mutable_read_index_response()->set_request_id(message.read_index_request().request_id());
    send(std::move(reply));
  } else if (message.has_read_index_response()) {
    handle_read_index_response(message);
  }
}

void Core::step_candidate(const pb::Message& message) {
  if (message.has_append_entries()) {
    // Candidates (§5.2): if AppendEntries is received from the new leader of
    // this term, convert to follower.
    become_follower(term_, message.from());
    handle_append_entries(message);
  } else if (message.has_install_snapshot()) {
    become_follower(term_, message.from());
    handle_install_snapshot(message);
  } else if (message.has_request_vote_response()) {
    handle_vote_response(message);
  } else if (message.has_read_index_request() || message.has_read_index_response()) {
    step_follower(message);
  }
}

void Core::step_leader(const pb::Message& message) {
  if (message.has_append_entries_response()) {
    handle_append_entries_response(message);
  } else if (message.has_install_snapshot_response()) {
    handle_install_snapshot_response(message);
  } else if (message.has_read_index_request()) {
    handle_read_request(message.read_index_request().request_id(), message.from());
  }
  // An AppendEntries for this term from another node cannot come from a
  // correct peer (Election Safety, §5.2: one leader per term); like any
  // message that fails validation, it is ignored rather than trusted.
}

// ------------------------------------------------------ leadership transfer --

Status Core::transfer_leadership(NodeId target) {
  if (role_ != Role::kLeader) {
    return Error{ErrorCode::kNotLeader, "only the leader can transfer leadership", leader_};
  }
  if (!is_voter(target)) {
    return Error{ErrorCode::kInvalidArgument, "node " + std::to_string(target) + " is not a voter"};
  }
  if (target == config_.id) return {};
  transfer_target_ = target;
  // The transfer gets one election timeout to finish (§3.10).
  election_elapsed_ = 0;
  const FollowerProgress& progress = followers_.at(target);
  if (progress.match_index == log_.last_index()) {
    send_timeout_now(target);
  } else {
    send_append(target, true);
  }
  return {};
}

void Core::send_timeout_now(NodeId to) {
  pb::Message message = message_to(to, term_);
  message.mutable_timeout_now();
  send(std::move(message));
}

}  // namespace raft
