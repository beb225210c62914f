#pragma once
// The fault harness's network: a namespace per member and one for the
// harness and its clients (the hub), each member joined to the hub's bridge
// by a veth pair, on 10.99.0.0/24 inside those namespaces only -- nothing of
// it is visible outside them, and two harness runs never share one.
//
//   hub (bridge br0, 10.99.0.254) --veth-- member i (eth0, 10.99.0.i)
//
// Partitions cut member-to-member traffic with nftables rules in the
// members' namespaces; clients keep reaching every member, as in Jepsen's
// etcd tests. Two kinds: packets silently dropped (TCP waits, keepalives
// time out) or refused at once (the sender is told the host is unreachable).
//
// Everything is made with `ip` and `nft` (Debian's iproute2 and nftables)
// and needs root. The destructor deletes the namespaces, which removes the
// links and rules with them; namespaces left by a harness that was killed
// are deleted by the next one (their names carry its PID).

#include <set>
#include <string>
#include <vector>

namespace raftkv::fault {

enum class CutKind {
  kDrop,    // packets vanish
  kReject,  // the sender learns at once (ICMP host unreachable)
};

class FaultNetwork {
 public:
  // Makes the namespaces and links for members 1..members. Throws
  // std::runtime_error naming the command that failed.
  explicit FaultNetwork(int members);
  ~FaultNetwork();
  FaultNetwork(const FaultNetwork&) = delete;
  FaultNetwork& operator=(const FaultNetwork&) = delete;

  // Why this machine cannot make the network ("" when it can): not root, or
  // ip / nft missing.
  static std::string missing_prerequisite();

  // Deletes namespaces of earlier harness runs whose process is gone.
  static void remove_stale_namespaces();

  // Moves the calling thread into the hub namespace. Call it first thing,
  // on the main thread, before any other thread exists: threads made later
  // (gRPC's among them) inherit it.
  void enter_hub() const;

  std::string member_namespace(int member) const;  // /run/netns/... path
  static std::string member_address(int member);   // 10.99.0.<member>

  // Cuts every member of `side` off from every member not in it (both
  // directions). Cuts add up until heal().
  void cut(const std::set<int>& side, CutKind kind);
  // Cuts member a off from member b (both directions).
  void cut_pair(int a, int b, CutKind kind);
  void heal();

 private:
  std::string hub_;
  std::vector<std::string> members_;  // namespace names, [0] is member 1
};

}  // namespace raftkv::fault
