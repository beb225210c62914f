#pragma once
// Where each member of the cluster is reached, for raftkvd: its peer
// address (for Raft) and its client address (for forwarding requests to the
// leader and for the member list), from the static lists (--peers,
// --clients) or from DNS (--discovery-srv DOMAIN):
//
//   _raftkv-peer._tcp.DOMAIN     SRV records of the members' peer ports
//   _raftkv-client._tcp.DOMAIN   SRV records of their client ports
//
// (what a Kubernetes headless Service with ports named raftkv-peer and
// raftkv-client publishes). Targets name members by raft::DnsDiscovery's
// rule; the voters are ids 1 to --cluster-size.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "proto/kv.pb.h"
#include "raft/discovery.h"
#include "raft/dns_discovery.h"

namespace raftkv {

class MemberDirectory {
 public:
  // Fails with a message for the operator (a bad list, a bad DNS server).
  static raft::Result<std::unique_ptr<MemberDirectory>> create(const DaemonConfig& config);
  ~MemberDirectory();

  // For raft::Server: the voters and their peer addresses.
  std::shared_ptr<raft::Discovery> peers() const { return peers_; }
  std::map<raft::NodeId, std::string> client_addresses() const;
  std::vector<api::Member> members() const;

  // Calls `changed` whenever an address changes, until the directory stops.
  void on_change(std::function<void()> changed);
  // With DNS: looks the records up once, then keeps them fresh in the
  // background. Nothing to do for static lists.
  void start();
  void stop();

 private:
  MemberDirectory() = default;

  std::shared_ptr<raft::Discovery> peers_;
  std::shared_ptr<raft::DnsDiscovery> dns_peers_;    // when discovering by DNS
  std::shared_ptr<raft::DnsDiscovery> dns_clients_;  // when discovering by DNS
  std::map<raft::NodeId, std::string> static_clients_;
  std::vector<raft::DiscoveryWatch> watches_;
  raft::NodeId self_ = raft::kNoNode;
};

}  // namespace raftkv
