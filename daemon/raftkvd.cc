// raftkvd: one member of a raftkv cluster.
//
//   raftkvd --id 1 --data-dir /var/lib/raftkv/1
//           --listen-peer 127.0.0.1:7001 --listen-client 127.0.0.1:9001
//           --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003
//           --clients 1=127.0.0.1:9001,2=127.0.0.1:9002,3=127.0.0.1:9003
//
// or, finding the members through DNS SRV records (daemon/member_directory.h):
//
//   raftkvd --name raftkv-0 --cluster-token prod --data-dir /var/lib/raftkv
//           --listen-peer 0.0.0.0:7001 --listen-client 0.0.0.0:9001
//           --discovery-srv raftkv.default.svc.cluster.local
//
// Every option can also come from the environment (RAFTKVD_ID,
// RAFTKVD_DATA_DIR, ...) or a config file (--config, TOML or INI); a flag
// beats the environment, which beats the file. A bad flag or config is one
// line on stderr and exit status 2; a data directory that cannot be used is
// one line naming it and exit status 1. SIGTERM or SIGINT stop the member
// gracefully: a leader first hands leadership to a follower. A member whose
// disk fails under it (a write or sync refused) stops at once and exits with
// status 1, having acknowledged nothing after the failed write.

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "daemon/config.h"
#include "daemon/credentials.h"
#include "daemon/grpc_log.h"
#include "daemon/grpc_request_counter.h"
#include "daemon/health_reporter.h"
#include "daemon/member_directory.h"
#include "daemon/metrics_exporter.h"
#include "daemon/metrics_server.h"
#include "daemon/node_storage.h"
#include "daemon/restore.h"
#include "daemon/status_message_interceptor.h"
#include "kvstore/admin_service.h"
#include "kvstore/kv_service.h"
#include "raft/grpc_transport.h"
#include "raft/grpc_unknown_method.h"

namespace {

using namespace std::chrono_literals;

// Raised by raft::Server's on_fault (a failed write to this member's
// storage): the main thread stops the member as it would on SIGTERM, but
// without handing leadership over, and exits with status 1.
constexpr int kFaultSignal = SIGUSR1;

int fail(int status, const std::string& message) {
  std::fprintf(stderr, "raftkvd: %s\n", message.c_str());
  return status;
}

// Hands leadership to the voter with the most of the log (§3.10) and
// waits until it has taken over or the transfer failed (an election timeout).
void hand_over_leadership(raft::Server& server) {
  const raft::ServerStatus status = server.status();
  if (status.role != raft::Role::kLeader || status.configuration == nullptr) return;
  const raft::FollowerStatus* best = nullptr;
  for (const raft::FollowerStatus& follower : status.followers) {
    const auto& voters = status.configuration->voters();
    const bool voter = std::any_of(voters.begin(), voters.end(), [&](const raft::pb::Member& member) {
      return member.id() == follower.id;
    });
    if (voter && (best == nullptr || follower.match_index > best->match_index)) best = &follower;
  }
  if (best == nullptr) return;
  spdlog::info("handing leadership to member {} before stopping", best->id);
  const raft::Status handed = server.transfer_leadership(best->id).get();
  if (!handed.ok()) spdlog::warn("leadership was not handed over: {}", handed.error().to_string());
}

}  // namespace

int main(int argc, char** argv) {
  raftkv::DaemonConfig config;
  if (std::optional<int> exit_status = raftkv::parse_daemon_config(argc, argv, config)) return *exit_status;
  auto created = raftkv::MemberDirectory::create(config);
  if (!created.ok()) return fail(2, created.error().message);
  std::unique_ptr<raftkv::MemberDirectory> directory = std::move(created).value();
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  raftkv::route_grpc_log_to_spdlog();

  // Signals are waited for by the main thread alone: block them before any
  // other thread exists.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, kFaultSignal);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // (gRPC starts threads of its own as soon as credentials are made.)
  auto loaded_credentials = raftkv::load_daemon_credentials(config);
  if (!loaded_credentials.ok()) return fail(2, loaded_credentials.error().message);
  const raftkv::DaemonCredentials credentials = std::move(loaded_credentials).value();
  directory->start();  // with DNS: the first lookup, then a thread keeps them fresh

  auto storage = raftkv::NodeStorage::open(
      config.data_dir, raft::StorageIdentity{config.cluster_id, config.id},
      raftkv::NodeStorage::Mode::kCreateIfMissing,
      raft::RocksDbMemory::create(static_cast<std::size_t>(config.rocksdb_memory_mib) << 20));
  if (!storage.ok()) return fail(1, storage.error().to_string());
  raftkv::NodeStorage node = std::move(storage).value();

  raft::GrpcTransportOptions transport_options;
  transport_options.cluster_id = config.cluster_id;
  transport_options.listen_address = config.listen_peer;
  transport_options.on_unreachable = [discovery = directory->peers()](raft::NodeId peer) {
    discovery->unreachable(peer);
  };
  transport_options.server_credentials = credentials.peer_endpoint;
  transport_options.channel_credentials = credentials.peer_dialling;
  transport_options.allowed_peer_names = credentials.allowed_peer_names;
  auto transport = std::make_shared<raft::GrpcTransport>(transport_options);
  if (raft::Status listening = transport->listen(); !listening.ok())
    return fail(1, listening.error().message);
  // Members first, so that a peer connecting before Raft starts is not
  // refused as a stranger.
  transport->set_peers(directory->peers()->discover().value());

  raft::ServerOptions options;
  options.core.id = config.id;
  options.core.election_ticks = config.election_ticks;
  options.core.heartbeat_ticks = config.heartbeat_ticks;
  options.core.log_payload_cache_bytes = static_cast<std::size_t>(config.log_cache_mib) << 20;
  options.tick_interval = std::chrono::milliseconds(config.tick_ms);
  options.snapshot_entries = config.snapshot_entries;
  options.compaction_margin = config.compaction_margin;
  options.join_existing_cluster = config.initial_cluster_state == "existing";
  options.founder_client_addresses = directory->client_addresses();
  options.max_pending_proposals = static_cast<std::size_t>(config.max_pending_proposals);
  options.max_pending_bytes = static_cast<std::size_t>(config.max_pending_mib) << 20;
  // The raft thread says so; the main thread, waiting for signals, stops.
  options.on_fault = [](const raft::Error&) { kill(getpid(), kFaultSignal); };
  std::unique_ptr<raft::StandaloneSnapshotFile> backup;
  if (!config.restore.empty()) {
    auto founding = raftkv::founding_state_from_backup(config.restore, *node.raft(), backup);
    if (!founding.ok()) return fail(1, founding.error().message);
    options.founding_state = std::move(founding).value();
  }
  raft::Server server(options, node.raft(), node.snapshots(), transport, directory->peers(), node.store());
  if (raft::Status started = server.start(); !started.ok()) return fail(1, started.error().to_string());

  kv::KvServiceOptions kv_options;
  kv_options.cluster_id = config.cluster_id;
  kv_options.member_id = config.id;
  kv_options.client_addresses = directory->client_addresses();
  kv_options.leader_wait = config.election_ticks * options.tick_interval * 2;  // the longest election timeout
  kv_options.forward_credentials = credentials.forwarding;
  kv_options.max_in_flight = static_cast<std::size_t>(config.max_concurrent_requests);
  kv::KvService kv_service(kv_options, server, *node.store());
  kv::AdminService admin_service(kv::AdminServiceOptions{config.cluster_id, config.id, config.data_dir,
                                                         kv_options.leader_wait, credentials.forwarding},
                                 server, *node.store());
  admin_service.set_members(directory->members());
  directory->on_change([&] {
    kv_service.set_client_addresses(directory->client_addresses());
    admin_service.set_members(directory->members());
  });

  // The standard health service (grpc.health.v1) and server reflection, so
  // that standard gRPC tools work against the client endpoint.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int client_port = 0;
  builder.AddListeningPort(config.listen_client, credentials.client_endpoint, &client_port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // a busy port is an error, not shared
  // A put is at most a 1 MiB value and its key; a transaction may carry more.
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_request_bytes));
  // Each call waits for its entry on a thread of the sync server; by default
  // gRPC keeps two idle ones and ends the rest, so under load it made and
  // ended threads all the time (864 clone() calls in 6 s at 64 clients).
  // Keeping them cut the cluster's CPU per write by a quarter.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 256);
  raftkv::GrpcRequestCounter request_counter;
  {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
    // Messages are filled in first, so that the counter sees the status the
    // client gets.
    interceptors.push_back(raftkv::status_message_interceptor_factory());
    interceptors.push_back(raftkv::GrpcRequestCounter::interceptor_factory(request_counter));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  builder.RegisterService(&kv_service);
  builder.RegisterService(&admin_service);
  raft::UnknownMethodService unknown_method(
      "raftkvd's client port serves raftkv.api.KV, raftkv.api.Admin, grpc.health.v1.Health and server "
      "reflection (docs/api.md); check the endpoint, and that the client uses raftkv's proto/kv.proto");
  builder.RegisterCallbackGenericService(&unknown_method);
  std::unique_ptr<grpc::Server> client_server = builder.BuildAndStart();
  if (client_server == nullptr || client_port == 0) {
    directory->stop();  // its callbacks use the services above
    server.stop();
    return fail(1, "cannot listen for clients on " + config.listen_client + " (a bad or busy address)");
  }
  std::unique_ptr<raftkv::MetricsServer> metrics_server;
  if (!config.listen_metrics.empty()) {
    raftkv::MetricsSources sources{config.cluster_id, config.id,        &server,
                                   transport.get(),   &request_counter, config.data_dir};
    auto started_metrics = raftkv::MetricsServer::start(
        config.listen_metrics, [sources] { return raftkv::render_metrics(sources); });
    if (!started_metrics.ok()) {
      client_server->Shutdown();
      directory->stop();
      server.stop();
      return fail(1, started_metrics.error().message);
    }
    metrics_server = std::move(started_metrics).value();
    spdlog::info("serving metrics on http://{}/metrics", config.listen_metrics);
  }
  raftkv::HealthReporter health(server, *client_server->GetHealthCheckService(), config.health_max_lag);
  spdlog::info(
      "raftkvd {}: member {} of cluster {} serving clients on {} ({}) and peers on {} ({}); data in {}",
      RAFTKV_VERSION, config.id, config.cluster_id, config.listen_client,
      !credentials.client_tls   ? "plaintext"
      : config.client_cert_auth ? "TLS, client certificates required"
                                : "TLS",
      config.listen_peer, credentials.peer_tls ? "mutual TLS" : "plaintext", config.data_dir);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  const bool faulted = signal_number == kFaultSignal;
  if (faulted) {
    spdlog::critical("stopping: this member's storage failed (see above); check the disk under {}",
                     config.data_dir);
  } else {
    spdlog::info("received {}; stopping", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  }
  health.shut_down();  // load balancers stop sending before the leader hands over
  if (!faulted) hand_over_leadership(server);
  client_server->Shutdown(std::chrono::system_clock::now() + 2s);
  metrics_server.reset();
  directory->stop();
  server.stop();
  transport->stop();
  spdlog::info("stopped");
  return faulted ? 1 : 0;
}
