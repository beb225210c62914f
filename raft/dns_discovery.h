#pragma once
// raft::Discovery from DNS: the members' addresses come from the SRV
// records of one name (e.g. "_raftkv-peer._tcp.raftkv.example.internal",
// as a Kubernetes headless Service publishes them) and the A/AAAA records
// of their targets; c-ares does the lookups (raft/dns_resolver.h).
//
// Who the members are is not up to DNS. A record's target names its member
// by the number that ends the target's first label, plus one ("raftkv-0.x"
// is member 1, "node-4.x" member 5: StatefulSet ordinals start at 0, Raft
// ids at 1). The voters are fixed by configuration (options.members), so a
// partial or stale answer can change where a member is reached, never who
// votes: two nodes that saw different answers still agree on the quorum.
// Records for other ids, or targets without a number, are logged and
// ignored; when two records name one member, the first in RFC 2782 order
// (priority, then weight) wins.
//
// A thread re-resolves every options.refresh_interval, and soon after
// unreachable() hints that a member did not answer at its address (at most
// once per options.min_lookup_interval). A failed lookup -- NXDOMAIN,
// SERVFAIL, a timeout, an empty or malformed answer -- is logged once per
// kind of failure and retried with exponential back-off; it never stops the
// node, and what was known before stays known. A member whose address was
// never found has an empty address until it is.

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "raft/discovery.h"
#include "raft/dns_resolver.h"

namespace raft {

struct DnsDiscoveryOptions {
  std::string srv_name;
  std::vector<NodeId> members;  // every voter, this node included
  DnsResolverOptions resolver;
  std::chrono::milliseconds refresh_interval{30'000};
  std::chrono::milliseconds min_lookup_interval{1'000};
  std::chrono::milliseconds min_backoff{500};
  std::chrono::milliseconds max_backoff{30'000};
  // For the log only: what kind of addresses these are ("peer", "client").
  std::string what = "peer";
};

class DnsDiscovery final : public Discovery {
 public:
  static Result<std::unique_ptr<DnsDiscovery>> create(DnsDiscoveryOptions options);
  ~DnsDiscovery() override;

  // The member id a target names, by the rule above; nullopt if none.
  static std::optional<NodeId> member_of_target(std::string_view target);

  // Every member, with the address last found for it (empty if none yet).
  Result<std::vector<Peer>> discover() override;
  DiscoveryWatch watch(Listener listener) override;
  void unreachable(NodeId member) override;

  // Looks up the records now, on the caller's thread, and publishes what
  // changed; true if the lookup succeeded.
  bool resolve_now();
  // Starts the re-resolving thread; its first lookup is immediate, unless
  // resolve_now() has already succeeded.
  void start();
  void stop();

 private:
  DnsDiscovery(DnsDiscoveryOptions options, std::unique_ptr<DnsResolver> resolver);
  void run();
  void report_failure(DnsFailure failure, const std::string& detail);
  void warn_once(const std::string& key, const std::string& message);
  std::vector<Peer> members_locked() const;  // under mutex_

  const DnsDiscoveryOptions options_;
  std::unique_ptr<DnsResolver> resolver_;  // used by one thread at a time
  std::mutex resolve_mutex_;               // ... which this ensures

  mutable std::mutex mutex_;
  std::map<NodeId, std::string> addresses_;
  DnsFailure last_failure_ = DnsFailure::kNone;
  bool resolved_ = false;         // a lookup has succeeded
  std::set<std::string> warned_;  // odd records already logged
  std::condition_variable wake_;
  bool hinted_ = false;
  bool stopping_ = false;
  std::thread thread_;

  std::mutex listeners_mutex_;  // held while calling them, so that a watch ends cleanly
  std::map<std::uint64_t, Listener> listeners_;
  std::uint64_t next_listener_ = 1;
};

}  // namespace raft
