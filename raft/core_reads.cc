// Raft core: linearizable reads with ReadIndex (dissertation §6.4).
//
// 1. The leader must have committed an entry of its current term, so that
//    its commit index is at least that of any previous leader.
// 2. It records its commit index as the read index.
// 3. It confirms it is still leader by a round of heartbeats acknowledged by
//    a majority (batched: one round serves every read queued before it).
// 4. The read is served once the state machine has applied the read index.
// Followers forward the request to the leader and serve it locally with the
// index they get back (§6.4.1 "followers can serve reads"): one request at a
// time per follower, answering every read that arrived before it was sent
// (as etcd batches its ReadIndex), so that a follower under read load sends
// the leader one message per round trip, not one per read.

#include <cassert>

#include "raft/core.h"
#include "raft/quorum.h"

namespace raft {

void Core::read_index(std::uint64_t request_id) {
  if (role_ == Role::kLeader) {
    handle_read_request(request_id, config_.id);
  } else if (leader_ != kNoNode) {
    reads_to_forward_.push_back(request_id);  // sent at the next ready(), with the others
  } else {
    read_states_.push_back(ReadState{request_id, 0, false});
  }
}

bool Core::reads_can_be_forwarded() const {
  return !forwarded_reads_ && !reads_to_forward_.empty() && leader_ != kNoNode && role_ != Role::kLeader;
}

void Core::forward_reads() {
  if (!reads_can_be_forwarded()) return;
  pb::Message message = message_to(leader_, term_);
  message.mutable_read_index_request()->set_request_id(reads_to_forward_.front());
  send(std::move(message));
  forwarded_reads_ = ForwardedReads{leader_, 0, std::move(reads_to_forward_)};
  reads_to_forward_.clear();
}

void Core::handle_read_index_response(const pb::Message& message) {
  const pb::ReadIndexResponse& response = message.read_index_response();
  // Any answer from the node asked will do, even if it has since lost
  // leadership: it confirmed the index with a majority after every read of
  // the batch had begun, or it says it failed.
  if (!forwarded_reads_ || message.from() != forwarded_reads_->leader ||
      response.request_id() != forwarded_reads_->request_ids.front()) {
    return;  // a late answer to a request already given up
  }
  finish_forwarded_reads(response.read_index(), response.success());
  forward_reads();
}

void Core::finish_forwarded_reads(Index index, bool ok) {
  for (std::uint64_t id : forwarded_reads_->request_ids)
    read_states_.push_back(ReadState{id, ok ? index : 0, ok});
  forwarded_reads_.reset();
}

void Core::tick_forwarded_reads() {
  // A request lost with a crashed leader or a dropped message is given up
  // after an election timeout; its reads fail and the next batch goes out
  // (to the leader known by then).
  if (forwarded_reads_ && ++forwarded_reads_->ticks >= config_.election_ticks)
    finish_forwarded_reads(0, false);
  forward_reads();
}

void Core::take_over_forwarded_reads() {
  // Reads this node forwarded began before it became leader: serving them
  // here, with an index taken now, is as safe as serving a new read.
  std::vector<std::uint64_t> ids = std::move(reads_to_forward_);
  reads_to_forward_.clear();
  if (forwarded_reads_) {
    ids.insert(ids.begin(), forwarded_reads_->request_ids.begin(), forwarded_reads_->request_ids.end());
    forwarded_reads_.reset();
  }
  for (std::uint64_t id : ids) handle_read_request(id, config_.id);
}

bool Core::committed_in_current_term() const {
  return log_.term_at(log_.committed()) == term_;
}

void Core::handle_read_request(std::uint64_t request_id, NodeId requester) {
  PendingRead read{request_id, requester, 0, 0};
  if (!committed_in_current_term()) {
    reads_awaiting_commit_.push_back(read);  // step 1 (usually the no-op)
    return;
  }
  start_read(read);
}

void Core::start_read(PendingRead read) {
  read.index = log_.committed();  // step 2
  read.round = read_round_ + 1;   // step 3: confirmed by the next round
  reads_awaiting_quorum_.push_back(read);
  read_round_pending_ = true;
}

void Core::release_confirmed_reads() {
  // A round is confirmed when a majority, counting the leader, acknowledged
  // a message of that round or a later one.
  std::vector<Index> acked_rounds;
  acked_rounds.reserve(membership().voters().size());
  for (NodeId voter : membership().voters()) {
    acked_rounds.push_back(voter == config_.id ? read_round_ : followers_.at(voter).acked_read_round);
  }
  const std::uint64_t confirmed = majority_match_index(std::move(acked_rounds));
  while (!reads_awaiting_quorum_.empty() && reads_awaiting_quorum_.front().round <= confirmed) {
    complete_read(reads_awaiting_quorum_.front(), true);
    reads_awaiting_quorum_.pop_front();
  }
}

void Core::complete_read(const PendingRead& read, bool ok) {
  if (read.requester == config_.id) {
    read_states_.push_back(ReadState{read.request_id, ok ? read.index : 0, ok});
    return;
  }
  pb::Message reply = message_to(read.requester, term_);
  auto* response = reply.mutable_read_index_response();
  response->set_request_id(read.request_id);
  response->set_read_index(ok ? read.index : 0);
  response->set_success(ok);
  send(std::move(reply));
}

void Core::fail_pending_reads() {
  for (const PendingRead& read : reads_awaiting_commit_) complete_read(read, false);
  for (const PendingRead& read : reads_awaiting_quorum_) complete_read(read, false);
  reads_awaiting_commit_.clear();
  reads_awaiting_quorum_.clear();
  read_round_pending_ = false;
}

}  // namespace raft
