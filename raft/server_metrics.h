#pragma once
// What raft::Server counts and times while it runs, for an exporter to read
// at any moment (raftkvd serves them as Prometheus metrics). Updated on the
// server's threads with relaxed atomics only -- no locks, nothing on the
// hot path beyond a few increments -- and read without stopping them, so a
// reading may be a few events inconsistent across metrics, never torn
// within a bucket.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace raft {

// Counts of durations per bucket, in the Prometheus way: bucket i counts
// observations <= kBounds[i]; a last bucket counts the rest. The bounds
// (0.1 ms to 10 s, about x2.5 apart) cover a write's round trip on one
// machine as well as a slow disk's fsync or a large snapshot.
class DurationHistogram {
 public:
  static constexpr std::array<double, 16> kBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  void observe(std::chrono::nanoseconds duration);

  struct Reading {
    std::array<std::uint64_t, kBounds.size() + 1> buckets{};  // not cumulative; the last is +Inf
    std::uint64_t count = 0;
    double sum_seconds = 0;
  };
  Reading read() const;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_nanoseconds_{0};
};

struct ServerMetrics {
  std::atomic<std::uint64_t> leader_changes{0};       // this node saw a new leader (or none) take over
  std::atomic<std::uint64_t> proposals_committed{0};  // applied and answered
  std::atomic<std::uint64_t> proposals_failed{0};     // not leader, dropped, expired or stopped
  std::atomic<std::uint64_t> proposals_refused{0};    // over ServerOptions::max_pending_* (not counted above)
  DurationHistogram proposal_duration;                // propose() to the answer, either way
  DurationHistogram disk_sync_duration;               // writing the log and hard state with fsync
  // Replication batching, as a leader sees it: AppendEntries sent that
  // carried entries, and the entries they carried.
  std::atomic<std::uint64_t> append_entries_sent{0};
  std::atomic<std::uint64_t> entries_sent{0};
  std::atomic<std::uint64_t> snapshots_taken{0};
  DurationHistogram snapshot_take_duration;  // writing the state machine's snapshot file
  std::atomic<std::uint64_t> snapshots_installed{0};
  DurationHistogram snapshot_install_duration;  // restoring the state machine from a leader's snapshot
};

}  // namespace raft
