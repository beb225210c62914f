#include "daemon/config.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "raft/dns_discovery.h"
#include "raft/fnv1a.h"

namespace raftkv {

namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "raftkvd: %s\n", message.c_str());
  return 2;
}

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0) return {};
  return name;
}

// Each option may come from RAFTKVD_<NAME> too. CLI11 lets a config file
// beat the environment; we want flag > environment > file, so a variable is
// handed to CLI11 as the flag it stands for, unless that flag was given.
std::vector<std::string> with_environment(const CLI::App& app, int argc, char** argv) {
  std::vector<std::string> arguments(argv, argv + argc);
  for (const CLI::Option* option : app.get_options()) {
    const std::string name = option->get_single_name();
    if (option->get_lnames().empty() || name == "help" || name == "config") continue;
    std::string variable = "RAFTKVD_" + name;
    for (char& c : variable)
      c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const char* value = std::getenv(variable.c_str());
    const std::string flag = "--" + name;
    const bool given = std::any_of(arguments.begin() + 1, arguments.end(), [&](const std::string& argument) {
      return argument == flag || argument.rfind(flag + "=", 0) == 0;
    });
    if (value != nullptr && !given) arguments.push_back(flag + "=" + value);
  }
  return arguments;
}

std::optional<std::string> tls_problem(const DaemonConfig& config) {
  const int peer_files =
      !config.peer_cert_file.empty() + !config.peer_key_file.empty() + !config.peer_trusted_ca_file.empty();
  if (peer_files != 0 && peer_files != 3) {
    return "peers use mutual TLS: give --peer-cert-file, --peer-key-file and --peer-trusted-ca-file together";
  }
  if (!config.peer_cert_allowed_names.empty() && peer_files == 0) {
    return "--peer-cert-allowed-names needs peer TLS (--peer-cert-file, --peer-key-file, "
           "--peer-trusted-ca-file)";
  }
  if (config.cert_file.empty() != config.key_file.empty()) return "give --cert-file and --key-file together";
  if (config.client_cert_auth && (config.cert_file.empty() || config.trusted_ca_file.empty())) {
    return "--client-cert-auth needs client TLS: --cert-file, --key-file and --trusted-ca-file (the CA "
           "that signs client certificates)";
  }
  if (!config.trusted_ca_file.empty() && config.cert_file.empty()) {
    return "--trusted-ca-file needs --cert-file and --key-file";
  }
  return std::nullopt;
}

// Checks what CLI11 cannot: how the options fit together.
std::optional<std::string> problem_with(const CLI::App& app, DaemonConfig& config) {
  if (config.peers.empty() == config.discovery_srv.empty()) {
    return "give either --peers (a static member list) or --discovery-srv (DNS), not both or neither";
  }
  if (!config.clients.empty() && config.peers.empty()) {
    return "--clients goes with --peers; with --discovery-srv client addresses come from DNS";
  }
  if (!config.cluster_token.empty()) {
    if (app.count("--cluster-id") > 0) return "give --cluster-id or --cluster-token, not both";
    config.cluster_id = cluster_id_of_token(config.cluster_token);
  }
  if (config.cluster_id == 0) return "--cluster-id must be a positive integer";
  if (config.heartbeat_ticks >= config.election_ticks) {
    return "--heartbeat-ticks must be less than --election-ticks";
  }
  if (std::optional<std::string> problem = tls_problem(config)) return problem;
  if (!config.restore.empty() && config.initial_cluster_state == "existing") {
    return "--restore founds a new cluster; a member joining an existing one gets the data from its leader";
  }
  if ((config.max_pending_mib << 20) < config.max_request_bytes) {
    return "--max-pending-mb must hold at least one request of --max-request-bytes";
  }
  if (config.discovery_srv.empty()) {
    if (config.id == 0) return "--id must be a positive integer";
    return std::nullopt;
  }
  // DNS: the id is --id, or the number that ends --name's first label,
  // plus one -- the rule DNS targets are read by.
  if (config.name.empty()) config.name = host_name();
  if (config.id == 0) {
    const std::optional<raft::NodeId> derived = raft::DnsDiscovery::member_of_target(config.name);
    if (!derived) {
      return "cannot tell this member's id from its name \"" + config.name +
             "\" (it must end in a number, e.g. raftkv-0); give --id or --name";
    }
    config.id = *derived;
  }
  // A member that joins later may have any id; the founders are 1..size.
  if (config.initial_cluster_state == "new" && config.id > static_cast<std::uint64_t>(config.cluster_size)) {
    return "member " + std::to_string(config.id) + " is not one of a cluster of " +
           std::to_string(config.cluster_size) + " (ids 1 to " + std::to_string(config.cluster_size) + ")";
  }
  return std::nullopt;
}

}  // namespace

std::uint64_t cluster_id_of_token(const std::string& token) {
  raft::Fnv1a64 hash;
  hash.add(token);
  return hash.value() == 0 ? 1 : hash.value();
}

std::optional<int> parse_daemon_config(int argc, char** argv, DaemonConfig& config) {
  CLI::App app{"raftkvd: one member of a raftkv cluster"};
  app.set_config("--config", "", "a TOML or INI file with any of these options");
  app.add_option(
      "--id", config.id,
      "this member's id (a positive integer); with --discovery-srv, taken from --name if left out");
  app.add_option("--cluster-id", config.cluster_id,
                 "the cluster's id; a member refuses another cluster's data and peers")
      ->capture_default_str();
  app.add_option(
      "--cluster-token", config.cluster_token,
      "a name for the cluster, shared by its members; sets the cluster id (instead of --cluster-id)");
  app.add_option("--data-dir", config.data_dir, "where this member keeps its data")->required();
  app.add_option("--initial-cluster-state", config.initial_cluster_state,
                 "new: found a cluster of the discovered members; existing: join a running cluster that adds "
                 "this member with kvctl member add (only matters while the data directory is empty)")
      ->check(CLI::IsMember({"new", "existing"}))
      ->capture_default_str();
  app.add_option("--restore", config.restore,
                 "found a new cluster from this backup (kvctl snapshot save): give every founding member the "
                 "same file and an empty data directory");
  app.add_option("--listen-peer", config.listen_peer, "HOST:PORT for the other members")->required();
  app.add_option("--listen-client", config.listen_client, "HOST:PORT for clients (KV and Admin services)")
      ->required();
  app.add_option("--listen-metrics", config.listen_metrics,
                 "HOST:PORT for Prometheus metrics over HTTP (GET /metrics); off by default");
  app.add_option("--peers", config.peers, "static discovery: every member's peer address, 1=HOST:PORT,...");
  app.add_option(
      "--clients", config.clients,
      "static discovery: every member's client address, for forwarding to the leader: 1=HOST:PORT,...");
  app.add_option("--discovery-srv", config.discovery_srv,
                 "DNS discovery: the domain whose _raftkv-peer._tcp and _raftkv-client._tcp SRV records "
                 "list the members");
  app.add_option("--dns-server", config.dns_server,
                 "HOST:PORT of the DNS server to ask (default: the system's resolvers)");
  app.add_option("--name", config.name, "this member's name in DNS (default: the host name)");
  app.add_option("--cluster-size", config.cluster_size,
                 "DNS discovery: the number of voting members (ids 1 to N)")
      ->check(CLI::Range(1, 99))
      ->capture_default_str();
  app.add_option("--dns-refresh-ms", config.dns_refresh_ms,
                 "DNS discovery: how often to look the records up again")
      ->check(CLI::Range(100, 3'600'000))
      ->capture_default_str();
  app.add_option("--tick-ms", config.tick_ms, "length of a Raft tick in milliseconds")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  app.add_option("--election-ticks", config.election_ticks,
                 "election timeout in ticks (randomized up to twice)")
      ->check(CLI::Range(2, 1000))
      ->capture_default_str();
  app.add_option("--heartbeat-ticks", config.heartbeat_ticks, "heartbeat interval in ticks")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--compaction-margin", config.compaction_margin,
                 "entries kept before a snapshot, for followers a little behind")
      ->capture_default_str();
  app.add_option("--snapshot-entries", config.snapshot_entries,
                 "take a snapshot after this many applied entries")
      ->capture_default_str();
  app.add_option("--log-cache-mb", config.log_cache_mib,
                 "MiB of applied log entries kept in memory for followers that lag (older ones are read "
                 "from disk)")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  app.add_option("--rocksdb-memory-mb", config.rocksdb_memory_mib,
                 "MiB of block cache and memtables shared by the node's RocksDB databases")
      ->check(CLI::Range(4, 1 << 20))
      ->capture_default_str();
  app.add_option("--health-max-lag", config.health_max_lag,
                 "grpc.health.v1 answers NOT_SERVING while more committed entries than this are still to "
                 "be applied here")
      ->capture_default_str();
  app.add_option("--max-request-bytes", config.max_request_bytes,
                 "the largest client request accepted, in bytes (larger: RESOURCE_EXHAUSTED)")
      ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{64} << 20))
      ->capture_default_str();
  app.add_option("--max-concurrent-requests", config.max_concurrent_requests,
                 "KV calls this member serves at once; more are refused with RESOURCE_EXHAUSTED")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--max-pending-proposals", config.max_pending_proposals,
                 "writes the leader holds waiting to be applied; more are refused with RESOURCE_EXHAUSTED")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--max-pending-mb", config.max_pending_mib,
                 "MiB of writes the leader holds waiting to be applied; more are refused with "
                 "RESOURCE_EXHAUSTED")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();

  app.add_option("--cert-file", config.cert_file,
                 "client TLS: this member's certificate (PEM) for the client endpoint; without it clients "
                 "talk plaintext");
  app.add_option("--key-file", config.key_file, "client TLS: the certificate's private key (PEM)");
  app.add_option("--trusted-ca-file", config.trusted_ca_file,
                 "client TLS: the CA (PEM) that signs client certificates and the other members' client "
                 "endpoints");
  app.add_flag("--client-cert-auth", config.client_cert_auth,
               "client TLS: refuse clients without a certificate the trusted CA signed");
  app.add_option("--peer-cert-file", config.peer_cert_file,
                 "peer TLS (mutual): this member's certificate (PEM), signed by the cluster CA");
  app.add_option("--peer-key-file", config.peer_key_file, "peer TLS: the certificate's private key (PEM)");
  app.add_option("--peer-trusted-ca-file", config.peer_trusted_ca_file,
                 "peer TLS: the cluster CA (PEM); a peer must present a certificate it signed");
  app.add_option("--peer-cert-allowed-names", config.peer_cert_allowed_names,
                 "peer TLS: only peers whose certificate carries one of these names (common name or "
                 "subject alternative name; comma-separated) may connect");

  std::vector<std::string> arguments = with_environment(app, argc, argv);
  std::vector<char*> pointers;
  for (std::string& argument : arguments) pointers.push_back(argument.data());
  try {
    app.parse(static_cast<int>(pointers.size()), pointers.data());
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    return fail(error.what());
  }
  if (std::optional<std::string> problem = problem_with(app, config)) return fail(*problem);
  return std::nullopt;
}

}  // namespace raftkv
