#pragma once
// raftkvd's options: from flags, RAFTKVD_* environment variables and a
// config file (--config, TOML or INI), a flag beating the environment
// beating the file.

#include <cstdint>
#include <optional>
#include <string>

namespace raftkv {

struct DaemonConfig {
  // This member's id; with --discovery-srv it may be left out and is then
  // taken from --name (see MemberDirectory).
  std::uint64_t id = 0;
  std::uint64_t cluster_id = 1;
  std::string cluster_token;  // a name every member is given; hashed into cluster_id
  std::string name;           // this member's name in DNS; defaults to the host name
  std::string data_dir;
  // "new": with an empty data directory, found a cluster of the discovered
  // members. "existing": join a running cluster whose leader adds this
  // member (kvctl member add); it waits, empty, until the leader calls.
  // Ignored once the data directory holds a log.
  std::string initial_cluster_state = "new";
  // A backup (kvctl snapshot save) a new cluster is founded from: every
  // founding member is given the same file and an empty data directory.
  std::string restore;
  std::string listen_peer;
  std::string listen_client;
  std::string listen_metrics;  // HOST:PORT for GET /metrics (Prometheus); empty: none
  // Static discovery.
  std::string peers;
  std::string clients;
  // DNS discovery.
  std::string discovery_srv;
  std::string dns_server;
  int cluster_size = 5;
  int dns_refresh_ms = 30'000;
  // Raft.
  int tick_ms = 50;
  int election_ticks = 10;
  int heartbeat_ticks = 2;
  std::uint64_t snapshot_entries = 100'000;
  std::uint64_t compaction_margin = 5'000;
  // MiB of applied log payloads kept in memory; older ones are read from
  // disk when a lagging follower needs them.
  std::uint64_t log_cache_mib = 4;
  // MiB shared by both RocksDB databases for block cache and memtables.
  std::uint64_t rocksdb_memory_mib = 128;
  std::string log_level = "info";
  // The health service says NOT_SERVING while more committed entries than
  // this are still to be applied here (daemon/health_reporter.h).
  std::uint64_t health_max_lag = 1000;
  // Limits (docs/operations.md, "Limits and back-pressure").
  std::uint64_t max_request_bytes = 4 << 20;       // a client request on the wire
  std::uint64_t max_concurrent_requests = 10'000;  // KV calls in flight at this member
  std::uint64_t max_pending_proposals = 4096;      // writes waiting to be applied at the leader
  std::uint64_t max_pending_mib = 64;              // ... and their bytes
  // TLS (daemon/credentials.h). Clients: the endpoint's certificate and key,
  // and the CA that signs client certificates, which --client-cert-auth
  // requires. Peers: mutual TLS, all three files or none.
  std::string cert_file;
  std::string key_file;
  std::string trusted_ca_file;
  bool client_cert_auth = false;
  std::string peer_cert_file;
  std::string peer_key_file;
  std::string peer_trusted_ca_file;
  std::string peer_cert_allowed_names;  // comma-separated; empty: any the CA signed
};

// Parses argv (and the environment and config file). Returns the exit
// status when raftkvd should exit now -- 0 after --help, 2 after printing
// one line about a bad option -- and nullopt when `config` is ready.
std::optional<int> parse_daemon_config(int argc, char** argv, DaemonConfig& config);

// The cluster id a --cluster-token names: 64-bit FNV-1a of the token, so
// that every member started with the same token agrees without a number.
std::uint64_t cluster_id_of_token(const std::string& token);

}  // namespace raftkv
