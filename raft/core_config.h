#pragma once
// Tunables of the Raft core. Time is counted in ticks: the driver decides how
// long a tick is (raft::ServerOptions::tick_interval).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "raft/types.h"

namespace raft {

struct CoreConfig {
  NodeId id = kNoNode;
  // The voters of a new cluster, this node included: the configuration in
  // force until the log or a snapshot holds one (raft::Server writes it to
  // the log as the first entry). Empty for a node that joins an existing
  // cluster: it waits, never campaigning, until a leader sends it the log.
  std::vector<NodeId> voters;

  // A follower starts an election after a randomized timeout drawn from
  // [election_ticks, 2 * election_ticks) without hearing from a leader (§5.2).
  int election_ticks = 10;
  // A leader sends heartbeats every heartbeat_ticks (< election_ticks).
  int heartbeat_ticks = 2;

  // Pre-vote (dissertation §9.6): a node first asks whether it could win
  // before it disrupts the cluster by raising its term.
  bool pre_vote = true;
  // Check-quorum (§6.2): a leader steps down when it has not heard from a
  // majority for an election timeout; and followers that heard from a leader
  // within the minimum election timeout ignore vote requests (§4.2.3).
  bool check_quorum = true;

  // Replication pipeline per follower: AppendEntries in flight, entries and
  // payload bytes per message.
  std::size_t max_inflight_appends = 64;
  std::size_t max_entries_per_append = 512;
  std::size_t max_bytes_per_append = 1 << 20;
  // Bytes of a snapshot per InstallSnapshot chunk: what a leader and a
  // follower hold in memory per transfer.
  std::size_t max_snapshot_chunk_bytes = 1 << 20;
  // Payload bytes of committed entries handed out per Ready.
  std::size_t max_apply_bytes_per_ready = 16 << 20;
  // Payload bytes of applied, stable log entries kept in memory (newest
  // first); older ones keep only index and term, and the driver must fill
  // their payloads in from storage before sending an AppendEntries
  // (log_payloads.h). The default keeps every payload until compaction.
  std::size_t log_payload_cache_bytes = std::numeric_limits<std::size_t>::max();

  // Seeds the randomized election timeouts; the core is a pure function of
  // its inputs and this seed.
  std::uint64_t random_seed = 0;
};

// The end of the snapshot chunk that starts at `offset`: the core announces
// [offset, end) in an InstallSnapshot and the driver fills in those bytes.
inline std::uint64_t snapshot_chunk_end(const CoreConfig& config, std::uint64_t offset, std::uint64_t size) {
  return std::min<std::uint64_t>(offset + config.max_snapshot_chunk_bytes, size);
}

}  // namespace raft
