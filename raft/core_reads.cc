// Raft core: linearizable reads with ReadIndex (dissertation §6.4).
//
// 1. The leader must have committed an entry of its current term, so that
//    its commit index is at least that of any previous leader.
// 2. It records its commit index as the read index.
// 3. It confirms it is still leader by a round of heartbeats acknowledged by
//    a majority (batched: one round serves every read queued before it).
// 4. The read is served once the state machine has applied the read index.
// Followers forward the request to the leader and serve it locally with the
// index they get back (§6.4.1 "followers can serve reads").

#include <cassert>

#include "raft/core.h"
#include "raft/quorum.h"

namespace raft {

void Core::read_index(std::uint64_t request_id) {
  if (role_ == Role::kLeader) {
    handle_read_request(request_id, config_.id);
  } else if (leader_ != kNoNode) {
    pb::Message message = message_to(leader_, term_);
    message.mutable_read_index_request()->set_request_id(request_id);
    send(std::move(message));
  } else {
    read_states_.push_back(ReadState{request_id, 0, false});
  }
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
  acked_rounds.reserve(config_.voters.size());
  for (NodeId voter : config_.voters) {
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
