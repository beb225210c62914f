// Raft core: membership changes, one server at a time (dissertation §4.1).
//
// A configuration entry takes effect on each server as soon as it is in
// that server's log. Because consecutive configurations differ by at most
// one voter, every majority of the old one overlaps every majority of the
// new one, so no moment exists at which two disjoint majorities could each
// elect a leader. Two rules keep that true across leader changes:
//   - at most one change is uncommitted at a time, and
//   - a new leader proposes no change before it has committed an entry of
//     its own term (the fix to the single-server algorithm Ongaro posted in
//     2015: otherwise a change from an earlier term that was never committed
//     and one of the new term could both take effect on different servers).

#include <algorithm>

#include "raft/core.h"

namespace raft {

Result<ProposalTicket> Core::change_membership(const MembershipChange& change) {
  if (role_ != Role::kLeader) {
    return Error{ErrorCode::kNotLeader, "node " + std::to_string(config_.id) + " is not the leader", leader_};
  }
  if (transfer_target_ != kNoNode) {
    return Error{ErrorCode::kLeadershipTransfer,
                 "leadership is moving to node " + std::to_string(transfer_target_), transfer_target_};
  }
  if (!committed_in_current_term()) {
    return Error{
        ErrorCode::kFailedPrecondition,
        "the leader has not committed an entry of its term yet (it was just elected); retry shortly"};
  }
  if (memberships_.latest_index() > log_.committed()) {
    return Error{ErrorCode::kFailedPrecondition,
                 "another membership change (log index " + std::to_string(memberships_.latest_index()) +
                     ": " + membership().describe() + ") has not committed yet; one change at a time"};
  }
  Result<Membership> next = membership().apply(change);
  if (!next.ok()) return next.error();
  if (change.kind == MembershipChangeKind::kPromote && !caught_up(change.node)) {
    const FollowerProgress& progress = followers_.at(change.node);
    return Error{ErrorCode::kFailedPrecondition, "learner " + std::to_string(change.node) +
                                                     " has not caught up: it holds the log up to index " +
                                                     std::to_string(progress.match_index) + " of " +
                                                     std::to_string(log_.last_index()) +
                                                     "; promote it when it has"};
  }
  pb::Entry entry;
  entry.set_term(term_);
  entry.set_type(pb::ENTRY_CONFIGURATION);
  entry.set_data(next.value().serialize());
  const Index index = log_.append(std::move(entry));
  memberships_.append(index, std::move(next).value());
  adopt_latest_membership();
  broadcast_pending_ = true;
  return ProposalTicket{index, term_};
}

bool Core::caught_up(NodeId follower) const {
  auto found = followers_.find(follower);
  if (found == followers_.end()) return false;
  const FollowerProgress& progress = found->second;
  return progress.mode == ReplicationMode::kReplicate &&
         progress.match_index + config_.max_entries_per_append >= log_.last_index();
}

void Core::adopt_latest_membership() {
  const Membership& latest = membership();
  peers_.clear();
  voter_peers_.clear();
  for (NodeId voter : latest.voters()) {
    if (voter == config_.id) continue;
    peers_.push_back(voter);
    voter_peers_.push_back(voter);
  }
  for (NodeId learner : latest.learners()) {
    if (learner != config_.id) peers_.push_back(learner);
  }
  if (role_ != Role::kLeader) return;
  // A new member starts as any follower does after an election: probing
  // from the end of the leader's log. A removed one is forgotten at once
  // (§4.2.2: the leader stops replicating to it).
  for (NodeId peer : peers_) {
    followers_.try_emplace(peer, log_.last_index(), config_.max_inflight_appends);
  }
  std::erase_if(followers_, [&](const auto& follower) { return !latest.is_member(follower.first); });
  if (transfer_target_ != kNoNode && !latest.is_voter(transfer_target_)) transfer_target_ = kNoNode;
}

void Core::record_appended_configurations(const pb::AppendEntries& append, Index last_new) {
  // When the log now ends with these entries, the ones it held after
  // prev_log_index may have been replaced (Figure 2, rule 3); otherwise it
  // already held every one of them, configurations included.
  if (log_.last_index() != last_new) return;
  const std::uint64_t before = memberships_.version();
  memberships_.truncate_after(append.prev_log_index());
  for (const pb::Entry& entry : append.entries()) {
    if (entry.type() != pb::ENTRY_CONFIGURATION || entry.index() <= memberships_.latest_index()) continue;
    // acceptable_entries() has checked that it parses.
    memberships_.append(entry.index(), Membership::parse(entry.data()).value());
  }
  if (memberships_.version() != before) adopt_latest_membership();
}

void Core::note_commit() {
  const Membership& committed = memberships_.at(log_.committed());
  if (committed.is_member(config_.id)) {
    was_member_ = true;
    return;
  }
  // A node that never was a member (one still catching up to the entry
  // that adds it) has not been removed.
  if (!was_member_ || removed_) return;
  removed_ = true;
  if (role_ == Role::kLeader) {
    leader_removed_ = true;  // after this input, not in the middle of it
  } else if (role_ != Role::kFollower) {
    become_follower(term_, kNoNode);
  }
}

void Core::step_down_if_removed() {
  if (!leader_removed_) return;
  leader_removed_ = false;
  if (role_ != Role::kLeader) return;
  // §4.2.2: a leader removed by the configuration it just committed steps
  // down. Handing over to the voter with the most of the log saves the
  // cluster an election timeout.
  NodeId successor = kNoNode;
  Index best = 0;
  for (NodeId voter : voter_peers_) {
    const Index match = followers_.at(voter).match_index;
    if (match > best) {
      best = match;
      successor = voter;
    }
  }
  broadcast_append();  // the commit index, so that the others apply the change
  if (successor != kNoNode && best == log_.last_index()) send_timeout_now(successor);
  become_follower(term_, kNoNode);
}

bool Core::requester_was_removed(const pb::Message& request) const {
  // Only a member that knows the committed configuration left the requester
  // out, and that the requester's log ends before it, may say so: a log that
  // reaches past it may hold a later configuration that adds the requester.
  const Index committed = log_.committed();
  const Membership& membership = memberships_.at(committed);
  return membership.is_member(config_.id) && !membership.is_member(request.from()) &&
         request.request_vote().last_log_index() < memberships_.index_at(committed);
}

void Core::answer_removed_requester(const pb::Message& request) {
  pb::Message reply = message_to(request.from(), term_);
  auto* response = reply.mutable_request_vote_response();
  response->set_vote_granted(false);
  response->set_pre_vote(request.request_vote().pre_vote());
  response->set_requester_removed(true);
  send(std::move(reply));
}

}  // namespace raft
