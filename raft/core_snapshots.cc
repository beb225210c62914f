// Raft core: log compaction and InstallSnapshot (§7), the leader's and the
// follower's side.
//
// A snapshot travels as the bytes of a snapshot file, in chunks of at most
// config.max_snapshot_chunk_bytes. The core decides which bytes go where and
// when; the driver holds the bytes: it fills in each outgoing chunk from its
// snapshot and writes each incoming chunk to the snapshot being received.
// One chunk per follower is in flight at a time; the follower answers each
// with the offset it expects next, so a lost chunk (or a restarted follower)
// costs one resend from that offset, never the whole transfer.

#include <algorithm>
#include <cassert>

#include "raft/core.h"

namespace raft {

void Core::compact(const pb::SnapshotMetadata& snapshot, Index through) {
  assert(snapshot.index() <= log_.applied());
  if (snapshot.index() > snapshot_.index()) snapshot_ = snapshot;
  // Never compact past what the latest snapshot covers (a follower that
  // needs those entries gets the snapshot), nor past what is durable here.
  log_.compact(std::min({through, snapshot_.index(), log_.stable_index()}));
  memberships_.compact(log_.base_index());
}

// ------------------------------------------------------------ leader side --

void Core::send_snapshot_chunk(NodeId to) {
  FollowerProgress& progress = followers_.at(to);
  // Every compaction point is covered by a snapshot (compact() ensures it).
  assert(snapshot_.index() >= log_.base_index() && snapshot_.index() > 0);
  if (progress.mode != ReplicationMode::kSnapshot || progress.snapshot_index != snapshot_.index()) {
    // Start over from the first byte, also when a newer snapshot replaced
    // the one being sent: only the latest is kept.
    progress.become_snapshot(snapshot_.index());
  }
  if (progress.probe_sent) return;
  // Once every byte was acknowledged the follower is checking and installing
  // it; resending the last chunk asks whether it is done.
  const std::uint64_t size = snapshot_.size();
  std::uint64_t offset = progress.snapshot_offset;
  if (offset >= size && size > 0) {
    offset = size - 1 - (size - 1) % config_.max_snapshot_chunk_bytes;
  }
  pb::Message message = message_to(to, term_);
  pb::InstallSnapshot* chunk = message.mutable_install_snapshot();
  *chunk->mutable_snapshot() = snapshot_;
  chunk->set_offset(offset);
  chunk->set_done(snapshot_chunk_end(config_, offset, size) == size);
  progress.probe_sent = true;
  send(std::move(message));
}

void Core::handle_install_snapshot_response(const pb::Message& message) {
  auto found = followers_.find(message.from());
  if (found == followers_.end()) return;
  FollowerProgress& progress = found->second;
  const pb::InstallSnapshotResponse& response = message.install_snapshot_response();
  // As for AppendEntries answers: no correct follower claims entries this
  // leader never had (its snapshots and its log only grow while it leads).
  // Counting such a claim could commit entries no majority holds. (Found by
  // tests/fuzz/core_message_fuzzer.)
  if (response.snapshot_index() > log_.last_index()) return;
  progress.recently_active = true;
  if (response.done()) {
    // The follower holds everything up to the snapshot's index.
    const bool advanced = response.snapshot_index() > progress.match_index;
    if (advanced) progress.match_index = response.snapshot_index();
    if (progress.mode == ReplicationMode::kSnapshot) {
      progress.next_index = progress.match_index + 1;
      progress.become_probe();
    } else {
      // A late or repeated answer, after the leader moved on to probing or
      // streaming: what it proves still counts, and nothing at or below it
      // need be sent again.
      progress.next_index = std::max(progress.next_index, progress.match_index + 1);
    }
    if (advanced && maybe_commit()) broadcast_pending_ = true;
    send_append(message.from(), true);
    return;
  }
  if (progress.mode != ReplicationMode::kSnapshot || response.snapshot_index() != progress.snapshot_index) {
    return;  // about a transfer that is over
  }
  const std::uint64_t next_offset = std::min<std::uint64_t>(response.next_offset(), snapshot_.size());
  // A second answer asking for the chunk already on its way (the answer to
  // a duplicate, or to the copy a heartbeat resent) is dropped: following
  // it would start a second stream of chunks, and every heartbeat another,
  // each living as long as the transfer.
  if (progress.probe_sent && next_offset == progress.snapshot_offset) return;
  progress.snapshot_offset = next_offset;
  progress.probe_sent = false;
  // With every byte acknowledged, wait: the follower reports when it has
  // checked and installed the snapshot (and heartbeats ask again).
  if (progress.snapshot_offset < snapshot_.size()) send_snapshot_chunk(message.from());
}

// ---------------------------------------------------------- follower side --

void Core::answer_snapshot(NodeId leader, Index index, std::uint64_t next_offset, bool done) {
  pb::Message reply = message_to(leader, term_);
  pb::InstallSnapshotResponse* response = reply.mutable_install_snapshot_response();
  response->set_snapshot_index(index);
  response->set_next_offset(next_offset);
  response->set_done(done);
  send(std::move(reply));
}

bool Core::already_covered(const pb::SnapshotMetadata& snapshot, NodeId leader) {
  // Everything a snapshot holds is committed. If this log commits that far
  // already, or holds the snapshot's last entry (Figure 13, rule 6: then it
  // holds every entry before it too), the snapshot adds nothing but a commit
  // index; installing it would throw away entries this node may have
  // acknowledged.
  if (snapshot.index() <= log_.committed()) {
    answer_snapshot(leader, snapshot.index(), snapshot.size(), true);
    return true;
  }
  if (log_.matches(snapshot.index(), snapshot.term())) {
    log_.commit_to(snapshot.index());
    note_commit();
    answer_snapshot(leader, snapshot.index(), snapshot.size(), true);
    return true;
  }
  return false;
}

void Core::handle_install_snapshot(const pb::Message& message) {
  const pb::InstallSnapshot& chunk = message.install_snapshot();
  const pb::SnapshotMetadata& snapshot = chunk.snapshot();
  // A correct leader sends a snapshot of committed state, in chunks that lie
  // within it; anything else is ignored.
  const std::uint64_t end = chunk.offset() + chunk.data().size();
  if (snapshot.index() == 0 || snapshot.term() > message.term() || end > snapshot.size() ||
      chunk.done() != (end == snapshot.size()) || snapshot.configuration().voters_size() == 0 ||
      !Membership::validated(snapshot.configuration()).ok()) {
    return;
  }
  if (already_covered(snapshot, message.from())) return;

  const bool same = incoming_ && incoming_->snapshot.index() == snapshot.index() &&
                    incoming_->snapshot.term() == snapshot.term() &&
                    incoming_->snapshot.size() == snapshot.size();
  if (!same) {
    if (chunk.offset() != 0) {
      answer_snapshot(message.from(), snapshot.index(), 0, false);  // start from the beginning
      return;
    }
    incoming_ = IncomingSnapshot{snapshot, message.from(), 0, false};
  }
  incoming_->leader = message.from();
  if (incoming_->complete || chunk.offset() != incoming_->received) {
    // A duplicate, or a chunk after a lost one: say where to continue.
    answer_snapshot(message.from(), snapshot.index(), incoming_->received, false);
    return;
  }
  incoming_->received = end;
  snapshot_chunks_.push_back(chunk);
  if (chunk.done()) {
    incoming_->complete = true;  // answered once the driver has checked it
  } else {
    answer_snapshot(message.from(), snapshot.index(), end, false);
  }
}

void Core::snapshot_received(Index index, bool intact) {
  if (!incoming_ || !incoming_->complete || incoming_->snapshot.index() != index) return;
  const IncomingSnapshot incoming = *incoming_;
  incoming_.reset();
  if (!intact) {
    answer_snapshot(incoming.leader, index, 0, false);  // send it all again
    return;
  }
  if (already_covered(incoming.snapshot, incoming.leader)) return;
  // Figure 13, rule 7: discard the entire log and reset the state machine
  // from the snapshot.
  log_.restore(incoming.snapshot.index(), incoming.snapshot.term());
  memberships_.reset(incoming.snapshot.index(), Membership(incoming.snapshot.configuration()));
  adopt_latest_membership();
  note_commit();
  snapshot_ = incoming.snapshot;
  snapshot_to_install_ = incoming.snapshot;
  answer_snapshot(incoming.leader, index, incoming.snapshot.size(), true);
}

}  // namespace raft
