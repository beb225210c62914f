// Raft core: log replication (§5.3), both the leader's and the follower's
// side, and commitment (§5.4.2).

#include <algorithm>
#include <cassert>

#include "raft/core.h"
#include "raft/quorum.h"

namespace raft {

Result<ProposalTicket> Core::propose(std::string command) {
  if (role_ != Role::kLeader) {
    return Error{ErrorCode::kNotLeader, "node " + std::to_string(config_.id) + " is not the leader", leader_};
  }
  if (transfer_target_ != kNoNode) {
    // §3.10: during a transfer the leader stops accepting new commands, so
    // that the target can catch up and take over.
    return Error{ErrorCode::kLeadershipTransfer,
                 "leadership is moving to node " + std::to_string(transfer_target_), transfer_target_};
  }
  pb::Entry entry;
  entry.set_term(term_);
  entry.set_type(pb::ENTRY_COMMAND);
  entry.set_data(std::move(command));
  const Index index = log_.append(std::move(entry));
  // Sent at the next ready(), so that every command proposed meanwhile
  // travels in the same AppendEntries.
  broadcast_pending_ = true;
  return ProposalTicket{index, term_};
}

// ------------------------------------------------------------ leader side --

void Core::send_append(NodeId to, bool send_if_empty) {
  FollowerProgress& progress = followers_.at(to);
  // In replicate mode keep sending until the window is full or the follower
  // has everything; in probe mode send one message and wait.
  for (bool sent = false; !progress.paused();) {
    const Index prev_index = progress.next_index - 1;
    const std::optional<Term> prev_term = log_.term_at(prev_index);
    if (progress.mode == ReplicationMode::kSnapshot || !prev_term) {
      // §7: the entries this follower needs were compacted away; it gets
      // the snapshot instead.
      send_snapshot_chunk(to);
      return;
    }
    std::vector<pb::Entry> entries =
        log_.slice(progress.next_index, config_.max_entries_per_append, config_.max_bytes_per_append);
    if (entries.empty() && (sent || (!send_if_empty && progress.sent_commit >= log_.committed()))) {
      return;
    }
    pb::Message message = message_to(to, term_);
    auto* append = message.mutable_append_entries();
    append->set_prev_log_index(prev_index);
    append->set_prev_log_term(*prev_term);
    append->set_leader_commit(log_.committed());
    append->set_read_round(read_round_);
    progress.sent_commit = log_.committed();
    const bool streaming = progress.mode == ReplicationMode::kReplicate && !entries.empty();
    if (streaming) {
      // Optimistic: assume the follower will accept, and keep going.
      const Index last = entries.back().index();
      progress.next_index = last + 1;
      progress.window.add(last);
    } else if (progress.mode == ReplicationMode::kProbe) {
      progress.probe_sent = true;
    }
    append->mutable_entries()->Reserve(static_cast<int>(entries.size()));
    for (pb::Entry& entry : entries) *append->add_entries() = std::move(entry);
    send(std::move(message));
    if (!streaming) return;
    sent = true;
  }
}

void Core::broadcast_append() {
  // Only to followers with news: entries they lack, or a commit index they
  // have not been sent. (Heartbeats reach the others.)
  for (NodeId peer : peers_) send_append(peer, false);
}

void Core::broadcast_heartbeat() {
  // Heartbeats are empty AppendEntries (§5.2). Each checks consistency at
  // next_index - 1, so a follower that lost messages in flight rejects it and
  // the leader falls back to probing; and each carries the current ReadIndex
  // round, so acknowledgements confirm leadership for pending reads.
  for (NodeId peer : peers_) {
    FollowerProgress& progress = followers_.at(peer);
    const Index prev_index = progress.next_index - 1;
    if (progress.mode == ReplicationMode::kSnapshot || !log_.term_at(prev_index)) {
      // A snapshot transfer's heartbeat is its current chunk, sent again:
      // that also resumes a transfer whose chunk or answer was lost.
      progress.probe_sent = false;
      send_snapshot_chunk(peer);
      continue;
    }
    progress.sent_commit = log_.committed();
    pb::Message message = message_to(peer, term_);
    auto* append = message.mutable_append_entries();
    append->set_prev_log_index(prev_index);
    append->set_prev_log_term(log_.term_at(prev_index).value());
    append->set_leader_commit(log_.committed());
    append->set_read_round(read_round_);
    send(std::move(message));
  }
}

void Core::handle_append_entries_response(const pb::Message& message) {
  auto found = followers_.find(message.from());
  if (found == followers_.end()) return;
  FollowerProgress& progress = found->second;
  const pb::AppendEntriesResponse& response = message.append_entries_response();
  // No correct follower answers about entries this leader never had (a
  // peer that lost its disk but kept its id might): ignore such an answer.
  const Index claimed = response.success() ? response.match_index() : response.rejected_index();
  if (claimed > log_.last_index()) return;
  progress.recently_active = true;
  if (response.read_round() > progress.acked_read_round) {
    progress.acked_read_round = response.read_round();
    release_confirmed_reads();
  }

  if (!response.success()) {
    // A rejection is stale when it answers a message sent before the leader
    // learned more: below what is known to match, (when probing) for another
    // position than the one being probed, or (while a snapshot is on its
    // way) about entries the snapshot will replace.
    if (response.rejected_index() <= progress.match_index) return;
    if (progress.mode == ReplicationMode::kSnapshot) return;
    if (progress.mode == ReplicationMode::kProbe && response.rejected_index() != progress.next_index - 1) {
      return;
    }
    // Fast back-off (§5.3): skip the follower's whole conflicting term in
    // one step instead of one entry per round trip. If the leader has
    // entries of that term, the logs can agree up to its last one of them.
    Index next = response.conflict_index();
    if (response.conflict_term() != 0) {
      if (const std::optional<Index> last = log_.last_index_of_term(response.conflict_term())) {
        next = *last + 1;
      }
    }
    progress.next_index = std::clamp(next, progress.match_index + 1, response.rejected_index());
    progress.become_probe();
    send_append(message.from(), true);
    return;
  }

  const bool advanced = response.match_index() > progress.match_index;
  if (advanced) progress.match_index = response.match_index();
  progress.next_index = std::max(progress.next_index, progress.match_index + 1);
  progress.window.free_up_to(progress.match_index);
  if (progress.mode == ReplicationMode::kProbe) {
    // The follower's log now provably matches ours up to match_index.
    progress.become_replicate();
  }
  // A new commit index goes out at the next ready(), once every answer that
  // arrived with this one is counted: one message per follower then carries
  // it, together with whatever was proposed meanwhile, instead of a round
  // of empty messages per answer that moved it.
  if (advanced && maybe_commit()) broadcast_pending_ = true;
  send_append(message.from(), false);
  if (transfer_target_ == message.from() && progress.match_index == log_.last_index()) {
    send_timeout_now(message.from());
  }
}

bool Core::maybe_commit() {
  // Only the voters of the configuration in force count: not learners, and
  // not the leader itself when that configuration removes it (§4.2.2).
  std::vector<Index> match_indices;
  match_indices.reserve(membership().voters().size());
  for (NodeId voter : membership().voters()) {
    match_indices.push_back(voter == config_.id ? log_.stable_index() : followers_.at(voter).match_index);
  }
  const Index candidate = majority_match_index(std::move(match_indices));
  if (candidate <= log_.committed()) return false;
  // §5.4.2: only entries from the leader's current term are committed by
  // counting replicas. At least one of these entries must be from the
  // current term to guarantee that no server without them can be elected;
  // earlier entries are then committed indirectly by the Log Matching Property.
  if (log_.term_at(candidate) != term_) return false;
  const bool first_commit_in_term = !committed_in_current_term();
  log_.commit_to(candidate);
  if (first_commit_in_term) {
    std::vector<PendingRead> waiting = std::move(reads_awaiting_commit_);
    reads_awaiting_commit_.clear();
    for (PendingRead& read : waiting) start_read(read);
  }
  note_commit();
  return true;
}

// ---------------------------------------------------------- follower side --

bool Core::acceptable_entries(const pb::Message& message) const {
  // Entries must continue the log at prev_log_index + 1 without gaps, with
  // terms that never decrease and never exceed the sender's term, and must
  // not conflict with a committed entry: a correct leader never sends
  // anything else (Leader Completeness, §5.4), so such a message is ignored.
  const pb::AppendEntries& append = message.append_entries();
  Index index = append.prev_log_index();
  Term previous_term = append.prev_log_term();
  for (const pb::Entry& entry : append.entries()) {
    ++index;
    if (entry.index() != index || entry.term() < previous_term || entry.term() > message.term()) return false;
    previous_term = entry.term();
    // Compacted entries (before the base) were committed and applied; they
    // cannot be compared any more and are skipped below.
    if (index <= log_.committed() && index >= log_.base_index() && log_.term_at(index) != entry.term()) {
      return false;
    }
    if (entry.type() == pb::ENTRY_CONFIGURATION && !Membership::parse(entry.data()).ok()) return false;
  }
  return true;
}

void Core::handle_append_entries(const pb::Message& message) {
  const pb::AppendEntries& append = message.append_entries();
  if (!acceptable_entries(message)) return;
  leader_commit_ = std::max(leader_commit_, append.leader_commit());
  pb::Message reply = message_to(message.from(), term_);
  auto* response = reply.mutable_append_entries_response();
  response->set_read_round(append.read_round());

  if (append.prev_log_index() < log_.base_index()) {
    // The leader is behind what this log compacted, all of it committed:
    // tell it everything up to our commit index matches (as etcd does), and
    // it continues from there.
    response->set_success(true);
    response->set_match_index(log_.committed());
    send(std::move(reply));
    return;
  }

  if (!log_.matches(append.prev_log_index(), append.prev_log_term())) {
    // AppendEntries receiver rule 2 (Figure 2): reply false if the log does
    // not contain an entry at prevLogIndex whose term matches prevLogTerm.
    // The hint lets the leader skip a whole term at once (§5.3).
    response->set_success(false);
    response->set_rejected_index(append.prev_log_index());
    if (append.prev_log_index() > log_.last_index()) {
      response->set_conflict_index(log_.last_index() + 1);
    } else {
      response->set_conflict_term(log_.term_at(append.prev_log_index()).value());
      response->set_conflict_index(log_.first_index_of_term_run(append.prev_log_index()));
    }
    send(std::move(reply));
    return;
  }

  // Rules 3 and 4: drop conflicting entries and everything after them,
  // append entries not already in the log.
  const Index last_new = log_.append_after(append.prev_log_index(), append.entries());
  record_appended_configurations(append, last_new);
  // Rule 5: if leaderCommit > commitIndex, set commitIndex =
  // min(leaderCommit, index of last new entry).
  if (append.leader_commit() > log_.committed()) {
    log_.commit_to(std::min(append.leader_commit(), last_new));
    note_commit();
  }
  response->set_success(true);
  response->set_match_index(last_new);
  send(std::move(reply));
}

}  // namespace raft
