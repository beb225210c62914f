#include "daemon/metrics_exporter.h"

#include "daemon/process_metrics.h"
#include "daemon/prometheus_text.h"
#include "kvstore/directory_size.h"
#include "raft/grpc_status_name.h"

namespace raftkv {

std::string render_metrics(const MetricsSources& sources) {
  PrometheusText out;
  const raft::ServerStatus status = sources.server->status();
  const raft::ServerMetrics& metrics = sources.server->metrics();
  const auto d = [](auto value) { return static_cast<double>(value); };

  out.family("raftkv_build_info", "The version of raftkvd this member runs; always 1.", "gauge");
  out.sample("raftkv_build_info", {{"version", RAFTKV_VERSION}}, 1);
  if (const std::optional<ProcessMetrics> process = read_process_metrics()) {
    out.counter("process_cpu_seconds_total", "User and system CPU time this process spent, in seconds.",
                process->cpu_seconds);
    out.gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
              process->resident_memory_bytes);
    out.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", process->virtual_memory_bytes);
    out.gauge("process_open_fds", "Open file descriptors.", process->open_fds);
    out.gauge("process_max_fds", "The most file descriptors this process may open.", process->max_fds);
    out.gauge("process_start_time_seconds", "When the process started, in seconds since the Unix epoch.",
              process->start_time_seconds);
  }
  out.family("raftkv_member_info", "This member's ids; always 1.", "gauge");
  out.sample(
      "raftkv_member_info",
      {{"cluster_id", std::to_string(sources.cluster_id)}, {"member_id", std::to_string(sources.member_id)}},
      1);
  out.gauge("raftkv_term", "The Raft term this member is in.", d(status.term));
  out.gauge("raftkv_is_leader", "1 if this member leads, else 0.",
            status.role == raft::Role::kLeader ? 1 : 0);
  out.gauge("raftkv_has_leader", "1 if this member knows a leader, else 0.",
            status.leader != raft::kNoNode ? 1 : 0);
  out.gauge("raftkv_leader_id", "The member this one knows as leader; 0 if none.", d(status.leader));
  out.counter("raftkv_leader_changes_total",
              "Times this member saw another member (or itself) become leader.",
              d(metrics.leader_changes.load()));
  out.gauge("raftkv_removed", "1 once this member was removed from the cluster, else 0.",
            status.removed ? 1 : 0);

  out.gauge("raftkv_commit_index", "The highest log index this member knows is committed and holds.",
            d(status.commit_index));
  out.gauge("raftkv_cluster_commit_index",
            "The highest log index this member knows the cluster committed (a leader's, if this log lags).",
            d(status.cluster_commit_index));
  out.gauge("raftkv_applied_index", "The highest log index applied to this member's key-value store.",
            d(status.applied_index));
  out.gauge("raftkv_apply_lag_entries",
            "Committed entries this member has still to apply: cluster commit index minus applied index.",
            d(status.cluster_commit_index > status.applied_index
                  ? status.cluster_commit_index - status.applied_index
                  : 0));
  out.gauge("raftkv_last_log_index", "The last index in this member's log.", d(status.last_log_index));
  out.gauge("raftkv_first_log_index",
            "The first index still in this member's log (older ones are compacted).",
            d(status.first_log_index));
  out.gauge("raftkv_snapshot_index", "The log index of this member's latest snapshot.",
            d(status.snapshot_index));
  if (status.role == raft::Role::kLeader) {
    out.family("raftkv_follower_match_index",
               "On the leader: the highest index known replicated on each follower.", "gauge");
    for (const raft::FollowerStatus& follower : status.followers)
      out.sample("raftkv_follower_match_index", {{"follower_id", std::to_string(follower.id)}},
                 d(follower.match_index));
  }

  out.counter("raftkv_proposals_committed_total", "Writes proposed here that were committed and applied.",
              d(metrics.proposals_committed.load()));
  out.counter("raftkv_proposals_failed_total",
              "Writes proposed here that failed: not the leader, dropped, timed out or stopped.",
              d(metrics.proposals_failed.load()));
  out.counter("raftkv_proposals_refused_total",
              "Writes refused before they were proposed: over the pending limits (RESOURCE_EXHAUSTED).",
              d(metrics.proposals_refused.load()));
  out.gauge("raftkv_pending_proposals", "Writes admitted here and not answered yet.",
            d(sources.server->pending_proposals()));
  out.gauge("raftkv_pending_proposal_bytes", "Bytes of the writes admitted here and not answered yet.",
            d(sources.server->pending_proposal_bytes()));
  out.histogram("raftkv_proposal_duration_seconds", "From proposing a write here to its answer, either way.",
                metrics.proposal_duration.read());
  out.histogram("raftkv_disk_sync_duration_seconds", "Writing log entries and hard state to disk with fsync.",
                metrics.disk_sync_duration.read());
  out.counter("raftkv_append_entries_sent_total",
              "AppendEntries carrying entries this member sent as leader (with the next metric: entries per "
              "message, the batching of replication).",
              d(metrics.append_entries_sent.load()));
  out.counter("raftkv_entries_sent_total", "Log entries this member sent to followers in AppendEntries.",
              d(metrics.entries_sent.load()));
  out.counter("raftkv_snapshots_taken_total", "Snapshots of the key-value store this member wrote.",
              d(metrics.snapshots_taken.load()));
  out.histogram("raftkv_snapshot_take_duration_seconds", "Writing one snapshot file.",
                metrics.snapshot_take_duration.read());
  out.counter("raftkv_snapshots_installed_total",
              "Snapshots from a leader this member restored its store from.",
              d(metrics.snapshots_installed.load()));
  out.histogram("raftkv_snapshot_install_duration_seconds", "Restoring the store from a leader's snapshot.",
                metrics.snapshot_install_duration.read());

  if (sources.transport != nullptr) {
    const raft::GrpcTransportCounters peers = sources.transport->counters();
    out.counter("raftkv_peer_messages_sent_total", "Raft messages sent to other members.", d(peers.sent));
    out.counter("raftkv_peer_messages_received_total", "Raft messages received from other members.",
                d(peers.received));
    out.counter("raftkv_peer_messages_dropped_total",
                "Raft messages not sent: a full queue, too large, or no address for the peer.",
                d(peers.dropped));
    out.counter("raftkv_peer_messages_refused_total",
                "Incoming Raft messages refused: another cluster's, a non-member's, misaddressed, a name not "
                "allowed.",
                d(peers.refused));
    out.counter("raftkv_peer_reconnects_total", "Times a stream to a peer broke and was opened again.",
                d(peers.reconnects));
  }

  if (sources.requests != nullptr) {
    out.family("raftkv_grpc_requests_total",
               "Calls answered on the client endpoint, by method and status code.", "counter");
    for (const GrpcRequestCounter::Sample& sample : sources.requests->read()) {
      out.sample("raftkv_grpc_requests_total",
                 {{"method", sample.method}, {"code", raft::status_code_name(sample.code)}}, d(sample.count));
    }
  }

  out.gauge("raftkv_data_bytes", "Bytes of files in this member's data directory (log, snapshots, store).",
            d(kv::directory_bytes(sources.data_directory)));
  return out.text();
}

}  // namespace raftkv
