#pragma once
// What a leader knows about one follower (the seed's Leader::Peer): how much
// of the log it holds and how the leader is currently replicating to it.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "raft/replication_window.h"
#include "raft/types.h"

namespace raft {

enum class ReplicationMode {
  // The leader does not know where the follower's log matches its own. It
  // sends one AppendEntries at a time and waits for the answer (or the next
  // heartbeat) before sending another, backing off on each rejection.
  kProbe,
  // The follower's log matches up to match_index. The leader streams entries
  // optimistically, advancing next_index as it sends, with at most
  // window.capacity() messages unacknowledged.
  kReplicate,
  // The entries the follower needs were compacted away (§7): the leader
  // sends its latest snapshot in chunks, one at a time, continuing from the
  // offset the follower reports. It returns to probing once the follower
  // holds everything up to the snapshot's index.
  kSnapshot,
};

std::string_view to_string(ReplicationMode mode);

struct FollowerProgress {
  explicit FollowerProgress(Index leader_last_index, std::size_t window_capacity)
      : next_index(leader_last_index + 1), window(window_capacity) {}

  // Highest index known to be replicated on the follower (Figure 2).
  Index match_index = 0;
  // Index of the next entry to send (Figure 2).
  Index next_index;
  ReplicationMode mode = ReplicationMode::kProbe;
  // In probe mode: an AppendEntries is outstanding, so wait before the next.
  bool probe_sent = false;
  ReplicationWindow window;
  // The follower answered during the current check-quorum period.
  bool recently_active = false;
  // Commit index carried by the last message sent, so a follower that
  // acknowledges entries learns of their commitment without waiting for a
  // heartbeat.
  Index sent_commit = 0;
  // Highest ReadIndex round (§6.4) the follower has acknowledged.
  std::uint64_t acked_read_round = 0;

  // In snapshot mode: which snapshot is being sent, and the next byte of it
  // to send (the follower's last reported next_offset).
  Index snapshot_index = 0;
  std::uint64_t snapshot_offset = 0;

  bool paused() const {
    switch (mode) {
      case ReplicationMode::kProbe:
      case ReplicationMode::kSnapshot: return probe_sent;
      case ReplicationMode::kReplicate: return window.full();
    }
    return true;
  }

  void become_probe() {
    mode = ReplicationMode::kProbe;
    probe_sent = false;
    window.clear();
  }

  void become_snapshot(Index index) {
    mode = ReplicationMode::kSnapshot;
    probe_sent = false;
    window.clear();
    snapshot_index = index;
    snapshot_offset = 0;
  }

  void become_replicate() {
    mode = ReplicationMode::kReplicate;
    probe_sent = false;
    next_index = match_index + 1;
    window.clear();
  }
};

}  // namespace raft
