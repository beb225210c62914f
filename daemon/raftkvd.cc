// raftkvd: one member of a raftkv cluster.
//
//   raftkvd --id 1 --data-dir /var/lib/raftkv/1
//           --listen-peer 127.0.0.1:7001 --listen-client 127.0.0.1:9001
//           --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003
//           --clients 1=127.0.0.1:9001,2=127.0.0.1:9002,3=127.0.0.1:9003
//
// Every option can also come from the environment (RAFTKVD_ID,
// RAFTKVD_DATA_DIR, ...) or a config file (--config, TOML or INI); a flag
// beats the environment, which beats the file. A bad flag or config is one
// line on stderr and exit status 2; a data directory that cannot be used is
// one line naming it and exit status 1. SIGTERM or SIGINT stop the member
// gracefully: a leader first hands leadership to a follower.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "daemon/node_storage.h"
#include "kvstore/admin_service.h"
#include "kvstore/kv_service.h"
#include "raft/grpc_transport.h"
#include "raft/static_discovery.h"

namespace {

using namespace std::chrono_literals;

struct Config {
  std::uint64_t id = 0;
  std::uint64_t cluster_id = 1;
  std::string data_dir;
  std::string listen_peer;
  std::string listen_client;
  std::string peers;
  std::string clients;
  int tick_ms = 50;
  int election_ticks = 10;
  int heartbeat_ticks = 2;
  std::uint64_t snapshot_entries = 100'000;
  std::uint64_t compaction_margin = 5'000;
  std::string log_level = "info";
};

int fail(int status, const std::string& message) {
  std::fprintf(stderr, "raftkvd: %s\n", message.c_str());
  return status;
}

// Hands leadership to the follower with the most of the log, and waits up
// to an election timeout for it to take over.
void hand_over_leadership(raft::Server& server, std::chrono::milliseconds election_timeout) {
  const raft::ServerStatus status = server.status();
  if (status.role != raft::Role::kLeader || status.followers.empty()) return;
  const raft::FollowerStatus* best = &status.followers.front();
  for (const raft::FollowerStatus& follower : status.followers) {
    if (follower.match_index > best->match_index) best = &follower;
  }
  spdlog::info("handing leadership to member {} before stopping", best->id);
  if (!server.transfer_leadership(best->id).get().ok()) return;
  const auto deadline = std::chrono::steady_clock::now() + election_timeout;
  while (std::chrono::steady_clock::now() < deadline && server.status().role == raft::Role::kLeader) {
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  CLI::App app{"raftkvd: one member of a raftkv cluster"};
  app.set_config("--config", "", "a TOML or INI file with any of these options");
  app.add_option("--id", config.id, "this member's id (a positive integer)")->required();
  app.add_option("--cluster-id", config.cluster_id,
                 "the cluster's id; a member refuses another cluster's data and peers")
      ->capture_default_str();
  app.add_option("--data-dir", config.data_dir, "where this member keeps its data")->required();
  app.add_option("--listen-peer", config.listen_peer, "HOST:PORT for the other members")->required();
  app.add_option("--listen-client", config.listen_client, "HOST:PORT for clients (KV and Admin services)")
      ->required();
  app.add_option("--peers", config.peers, "every member's peer address: 1=HOST:PORT,2=HOST:PORT,...")
      ->required();
  app.add_option("--clients", config.clients,
                 "every member's client address, for forwarding writes to the leader: 1=HOST:PORT,...");
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
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  // Each option may come from RAFTKVD_<NAME> too. CLI11 lets a config file
  // beat the environment; we want flag > environment > file, so a variable
  // is handed to CLI11 as the flag it stands for, unless that flag was given.
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
  std::vector<char*> pointers;
  for (std::string& argument : arguments) pointers.push_back(argument.data());
  try {
    app.parse(static_cast<int>(pointers.size()), pointers.data());
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    return fail(2, error.what());
  }
  if (config.id == 0) return fail(2, "--id must be a positive integer");
  if (config.cluster_id == 0) return fail(2, "--cluster-id must be a positive integer");
  if (config.heartbeat_ticks >= config.election_ticks) {
    return fail(2, "--heartbeat-ticks must be less than --election-ticks");
  }
  raft::Result<std::vector<raft::Peer>> peers = raft::StaticDiscovery::parse(config.peers);
  if (!peers.ok()) return fail(2, "--peers: " + peers.error().message);
  std::map<raft::NodeId, std::string> clients;
  if (!config.clients.empty()) {
    raft::Result<std::vector<raft::Peer>> parsed = raft::StaticDiscovery::parse(config.clients);
    if (!parsed.ok()) return fail(2, "--clients: " + parsed.error().message);
    for (const raft::Peer& client : parsed.value()) clients[client.id] = client.address;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  // Signals are waited for by the main thread alone: block them before any
  // other thread exists.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto storage =
      raftkv::NodeStorage::open(config.data_dir, raft::StorageIdentity{config.cluster_id, config.id},
                                raftkv::NodeStorage::Mode::kCreateIfMissing);
  if (!storage.ok()) return fail(1, storage.error().to_string());
  raftkv::NodeStorage node = std::move(storage).value();

  raft::GrpcTransportOptions transport_options;
  transport_options.cluster_id = config.cluster_id;
  transport_options.listen_address = config.listen_peer;
  auto transport = std::make_shared<raft::GrpcTransport>(transport_options);
  if (raft::Status listening = transport->listen(); !listening.ok())
    return fail(1, listening.error().message);

  raft::ServerOptions options;
  options.core.id = config.id;
  options.core.election_ticks = config.election_ticks;
  options.core.heartbeat_ticks = config.heartbeat_ticks;
  options.tick_interval = std::chrono::milliseconds(config.tick_ms);
  options.snapshot_entries = config.snapshot_entries;
  options.compaction_margin = config.compaction_margin;
  raft::Server server(options, node.raft(), node.snapshots(), transport,
                      std::make_shared<raft::StaticDiscovery>(peers.value()), node.store());
  if (raft::Status started = server.start(); !started.ok()) return fail(1, started.error().to_string());

  kv::KvServiceOptions kv_options;
  kv_options.cluster_id = config.cluster_id;
  kv_options.member_id = config.id;
  kv_options.client_addresses = clients;
  kv_options.leader_wait = config.election_ticks * options.tick_interval * 2;  // the longest election timeout
  kv::KvService kv_service(kv_options, server, *node.store());
  kv::AdminService admin_service(kv::AdminServiceOptions{config.cluster_id, config.id, config.data_dir},
                                 server);
  std::vector<raftkv::api::Member> members;
  for (const raft::Peer& peer : peers.value()) {
    raftkv::api::Member& member = members.emplace_back();
    member.set_id(peer.id);
    member.set_peer_address(peer.address);
    member.set_client_address(clients.contains(peer.id) ? clients.at(peer.id) : "");
  }
  admin_service.set_members(members);

  grpc::ServerBuilder builder;
  int client_port = 0;
  builder.AddListeningPort(config.listen_client, grpc::InsecureServerCredentials(), &client_port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // a busy port is an error, not shared
  builder.SetMaxReceiveMessageSize(4 << 20);                // a request is at most a 1 MiB value and its key
  builder.RegisterService(&kv_service);
  builder.RegisterService(&admin_service);
  std::unique_ptr<grpc::Server> client_server = builder.BuildAndStart();
  if (client_server == nullptr || client_port == 0) {
    server.stop();
    return fail(1, "cannot listen for clients on " + config.listen_client + " (a bad or busy address)");
  }
  spdlog::info("member {} of cluster {} serving clients on {} and peers on {}; data in {}", config.id,
               config.cluster_id, config.listen_client, config.listen_peer, config.data_dir);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("received {}; stopping", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  hand_over_leadership(server, config.election_ticks * options.tick_interval * 2);
  client_server->Shutdown(std::chrono::system_clock::now() + 2s);
  server.stop();
  transport->stop();
  spdlog::info("stopped");
  return 0;
}
