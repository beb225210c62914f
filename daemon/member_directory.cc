#include "daemon/member_directory.h"

#include <spdlog/spdlog.h>

#include "raft/static_discovery.h"

namespace raftkv {

namespace {

constexpr char kPeerService[] = "_raftkv-peer._tcp.";
constexpr char kClientService[] = "_raftkv-client._tcp.";

}  // namespace

raft::Result<std::unique_ptr<MemberDirectory>> MemberDirectory::create(const DaemonConfig& config) {
  std::unique_ptr<MemberDirectory> directory(new MemberDirectory());
  if (config.discovery_srv.empty()) {
    raft::Result<std::vector<raft::Peer>> peers = raft::StaticDiscovery::parse(config.peers);
    if (!peers.ok())
      return raft::Error{raft::ErrorCode::kInvalidArgument, "--peers: " + peers.error().message};
    if (!config.clients.empty()) {
      raft::Result<std::vector<raft::Peer>> clients = raft::StaticDiscovery::parse(config.clients);
      if (!clients.ok()) {
        return raft::Error{raft::ErrorCode::kInvalidArgument, "--clients: " + clients.error().message};
      }
      for (const raft::Peer& client : clients.value()) directory->static_clients_[client.id] = client.address;
    }
    directory->peers_ = std::make_shared<raft::StaticDiscovery>(peers.value());
    return directory;
  }

  raft::DnsDiscoveryOptions options;
  for (int id = 1; id <= config.cluster_size; ++id) options.members.push_back(static_cast<raft::NodeId>(id));
  options.resolver.server = config.dns_server;
  options.refresh_interval = std::chrono::milliseconds(config.dns_refresh_ms);
  for (const bool peer : {true, false}) {
    options.srv_name = (peer ? kPeerService : kClientService) + config.discovery_srv;
    options.what = peer ? "peer" : "client";
    raft::Result<std::unique_ptr<raft::DnsDiscovery>> discovery = raft::DnsDiscovery::create(options);
    if (!discovery.ok()) {
      return raft::Error{raft::ErrorCode::kInvalidArgument, "--dns-server: " + discovery.error().message};
    }
    (peer ? directory->dns_peers_ : directory->dns_clients_) = std::move(discovery).value();
  }
  directory->peers_ = directory->dns_peers_;
  directory->self_ = config.id;
  return directory;
}

MemberDirectory::~MemberDirectory() {
  stop();
}

std::map<raft::NodeId, std::string> MemberDirectory::client_addresses() const {
  if (!dns_clients_) return static_clients_;
  std::map<raft::NodeId, std::string> addresses;
  const std::vector<raft::Peer> clients = dns_clients_->discover().value();
  for (const raft::Peer& member : clients) {
    if (!member.address.empty()) addresses[member.id] = member.address;
  }
  return addresses;
}

std::vector<api::Member> MemberDirectory::members() const {
  const std::map<raft::NodeId, std::string> clients = client_addresses();
  std::vector<api::Member> members;
  const std::vector<raft::Peer> peers = peers_->discover().value();
  for (const raft::Peer& peer : peers) {
    api::Member& member = members.emplace_back();
    member.set_id(peer.id);
    member.set_peer_address(peer.address);
    auto client = clients.find(peer.id);
    member.set_client_address(client == clients.end() ? "" : client->second);
  }
  return members;
}

void MemberDirectory::on_change(std::function<void()> changed) {
  for (const auto& discovery : {dns_peers_, dns_clients_}) {
    if (discovery)
      watches_.push_back(discovery->watch([changed](const std::vector<raft::Peer>&) { changed(); }));
  }
}

void MemberDirectory::start() {
  for (const auto& discovery : {dns_peers_, dns_clients_}) {
    if (!discovery) continue;
    discovery->resolve_now();  // addresses before Raft starts, when DNS has them
    discovery->start();
  }
  if (dns_peers_) {
    // This member finds itself by its number; without a record of its own
    // the others cannot reach it, which is worth saying at start.
    for (const raft::Peer& peer : dns_peers_->discover().value()) {
      if (peer.id == self_ && peer.address.empty()) {
        spdlog::warn(
            "peer discovery: no SRV record names member {} yet; the other members cannot reach it "
            "until one does",
            self_);
      }
    }
  }
}

void MemberDirectory::stop() {
  watches_.clear();
  for (const auto& discovery : {dns_peers_, dns_clients_}) {
    if (discovery) discovery->stop();
  }
}

}  // namespace raftkv
