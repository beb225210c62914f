// raft::DnsDiscovery over the real c-ares and a fake DNS server: how SRV
// targets name members, which records count, what a failed lookup keeps,
// and re-resolution -- periodic, after an unreachable hint, and with
// back-off while the name fails.

#include "raft/dns_discovery.h"

#include <gtest/gtest.h>

#include <map>

#include "tests/unit/eventually.h"
#include "tests/unit/fake_dns_server.h"

namespace raft {
namespace {

using namespace std::chrono_literals;
using testing::DnsQuery;
using testing::DnsReply;
using testing::eventually;
using testing::FakeDnsServer;

constexpr char kService[] = "_raftkv-peer._tcp.raftkv.test";

// A zone: SRV records of kService and each target's A record, which tests
// change as they go; or a failure code for every answer.
class Zone {
 public:
  struct Target {
    std::string name;
    std::uint16_t port;
    std::string address;
    std::uint16_t priority = 10;
    std::uint16_t weight = 10;
  };

  void set(std::vector<Target> targets) {
    std::lock_guard lock(mutex_);
    targets_ = std::move(targets);
  }
  void fail_with(int rcode) {
    std::lock_guard lock(mutex_);
    rcode_ = rcode;
  }

  FakeDnsServer::Answer answer() {
    return [this](const DnsQuery& query) -> std::optional<std::string> {
      std::lock_guard lock(mutex_);
      DnsReply reply(query, rcode_);
      if (rcode_ != DnsReply::kNoError) return reply.bytes();
      for (const Target& target : targets_) {
        if (query.type == DnsReply::kSrv && query.name == kService) {
          reply.srv(target.priority, target.weight, target.port, target.name);
        }
        if (query.type == DnsReply::kA && query.name == target.name) reply.a(target.address);
      }
      return reply.bytes();
    };
  }

 private:
  std::mutex mutex_;
  std::vector<Target> targets_;
  int rcode_ = DnsReply::kNoError;
};

DnsDiscoveryOptions options_for(const FakeDnsServer& server, std::vector<NodeId> members = {1, 2, 3}) {
  DnsDiscoveryOptions options;
  options.srv_name = kService;
  options.members = std::move(members);
  options.resolver = {server.address(), 200ms, 1};
  options.min_backoff = 20ms;
  options.max_backoff = 200ms;
  options.min_lookup_interval = 0ms;
  return options;
}

std::unique_ptr<DnsDiscovery> discovery_for(const DnsDiscoveryOptions& options) {
  Result<std::unique_ptr<DnsDiscovery>> created = DnsDiscovery::create(options);
  EXPECT_TRUE(created.ok()) << created.error().message;
  return std::move(created).value();
}

std::map<NodeId, std::string> addresses(DnsDiscovery& discovery) {
  std::map<NodeId, std::string> result;
  for (const Peer& peer : discovery.discover().value()) result[peer.id] = peer.address;
  return result;
}

// What a watcher was last told, thread-safely.
class Watcher {
 public:
  Discovery::Listener listener() {
    return [this](const std::vector<Peer>& members) {
      std::lock_guard lock(mutex_);
      last_.clear();
      for (const Peer& peer : members) last_[peer.id] = peer.address;
      ++calls_;
    };
  }
  std::string address_of(NodeId id) {
    std::lock_guard lock(mutex_);
    return last_[id];
  }
  int calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::map<NodeId, std::string> last_;
  int calls_ = 0;
};

TEST(DnsDiscovery, ATargetNamesTheMemberOneAfterTheNumberEndingItsFirstLabel) {
  EXPECT_EQ(DnsDiscovery::member_of_target("raftkv-0.raftkv.default.svc.cluster.local"), 1u);
  EXPECT_EQ(DnsDiscovery::member_of_target("node-4.raftkv.test"), 5u);
  EXPECT_EQ(DnsDiscovery::member_of_target("db12"), 13u);
  EXPECT_EQ(DnsDiscovery::member_of_target("web.node-3.test"), std::nullopt) << "only the first label counts";
  EXPECT_EQ(DnsDiscovery::member_of_target("raftkv"), std::nullopt);
  EXPECT_EQ(DnsDiscovery::member_of_target(""), std::nullopt);
  EXPECT_EQ(DnsDiscovery::member_of_target("n-99999999999.test"), std::nullopt) << "too long to be an id";
}

TEST(DnsDiscovery, EveryMemberIsListedAndOnlyConfiguredMembersGetAddresses) {
  Zone zone;
  zone.set({{"node-0.raftkv.test", 7001, "127.0.0.1"},
            {"node-2.raftkv.test", 7003, "127.0.0.3"},
            {"node-7.raftkv.test", 7008, "127.0.0.8"},  // member 8: not of this cluster
            {"web.raftkv.test", 80, "127.0.0.9"}});     // no member number
  FakeDnsServer server(zone.answer());
  auto discovery = discovery_for(options_for(server));
  ASSERT_TRUE(discovery->resolve_now());
  EXPECT_EQ(addresses(*discovery),
            (std::map<NodeId, std::string>{{1, "127.0.0.1:7001"}, {2, ""}, {3, "127.0.0.3:7003"}}))
      << "member 2 has no record yet: listed, with no address";
}

TEST(DnsDiscovery, TwoRecordsForOneMemberResolveToTheOneRankedFirst) {
  Zone zone;
  zone.set({{"node-0.a.test", 7001, "127.0.0.1", 20, 0},
            {"node-0.b.test", 7101, "127.0.0.11", 10, 0},
            {"node-0.c.test", 7201, "127.0.0.21", 10, 50}});
  FakeDnsServer server(zone.answer());
  auto discovery = discovery_for(options_for(server, {1}));
  ASSERT_TRUE(discovery->resolve_now());
  EXPECT_EQ(addresses(*discovery)[1], "127.0.0.21:7201") << "priority 10 beats 20; weight 50 beats 0";
}

TEST(DnsDiscovery, AFailedLookupKeepsWhatWasKnown) {
  Zone zone;
  zone.set({{"node-0.raftkv.test", 7001, "127.0.0.1"}, {"node-1.raftkv.test", 7002, "127.0.0.2"}});
  FakeDnsServer server(zone.answer());
  auto discovery = discovery_for(options_for(server, {1, 2}));
  ASSERT_TRUE(discovery->resolve_now());
  for (const int rcode : {DnsReply::kServFail, DnsReply::kNxDomain}) {
    zone.fail_with(rcode);
    EXPECT_FALSE(discovery->resolve_now());
    EXPECT_EQ(addresses(*discovery),
              (std::map<NodeId, std::string>{{1, "127.0.0.1:7001"}, {2, "127.0.0.2:7002"}}));
  }
  zone.fail_with(DnsReply::kNoError);
  zone.set({});  // an empty answer
  EXPECT_FALSE(discovery->resolve_now());
  EXPECT_EQ(addresses(*discovery)[2], "127.0.0.2:7002");
}

TEST(DnsDiscovery, AWatcherHearsTheCurrentMembersAtOnceAndEveryMoveAfter) {
  Zone zone;
  zone.set({{"node-0.raftkv.test", 7001, "127.0.0.1"}});
  FakeDnsServer server(zone.answer());
  DnsDiscoveryOptions options = options_for(server, {1});
  options.refresh_interval = 20ms;
  auto discovery = discovery_for(options);
  ASSERT_TRUE(discovery->resolve_now());
  Watcher watcher;
  DiscoveryWatch watch = discovery->watch(watcher.listener());
  EXPECT_EQ(watcher.calls(), 1);
  EXPECT_EQ(watcher.address_of(1), "127.0.0.1:7001");

  discovery->start();
  zone.set({{"node-0.raftkv.test", 7001, "127.0.0.5"}});
  ASSERT_TRUE(eventually([&] { return watcher.address_of(1) == "127.0.0.5:7001"; }));
  const int calls = watcher.calls();
  watch.reset();
  zone.set({{"node-0.raftkv.test", 7001, "127.0.0.6"}});
  ASSERT_TRUE(eventually([&] { return addresses(*discovery)[1] == "127.0.0.6:7001"; }));
  EXPECT_EQ(watcher.calls(), calls) << "no calls once the watch has ended";
}

TEST(DnsDiscovery, AnUnreachableHintLooksAgainLongBeforeTheRefresh) {
  Zone zone;
  zone.set({{"node-0.raftkv.test", 7001, "127.0.0.1"}});
  FakeDnsServer server(zone.answer());
  DnsDiscoveryOptions options = options_for(server, {1});
  options.refresh_interval = std::chrono::hours(1);
  auto discovery = discovery_for(options);
  ASSERT_TRUE(discovery->resolve_now());  // as raftkvd does before start()
  discovery->start();
  EXPECT_EQ(addresses(*discovery)[1], "127.0.0.1:7001");
  zone.set({{"node-0.raftkv.test", 7001, "127.0.0.4"}});
  discovery->unreachable(1);
  ASSERT_TRUE(eventually([&] { return addresses(*discovery)[1] == "127.0.0.4:7001"; }));
}

TEST(DnsDiscovery, AFailingNameIsRetriedWithBackOffUntilItResolves) {
  Zone zone;
  zone.fail_with(DnsReply::kServFail);
  FakeDnsServer server(zone.answer());
  DnsDiscoveryOptions options = options_for(server, {1});
  options.min_backoff = 50ms;
  options.max_backoff = 10s;
  auto discovery = discovery_for(options);
  const auto started = std::chrono::steady_clock::now();
  discovery->start();
  // Back-off doubles from 50 ms: the fourth lookup comes no sooner than
  // 50+100+200 ms after the first (a retry every 20 ms would be there in
  // 60). Only a lower bound on time: a loaded machine is slower, never faster.
  ASSERT_TRUE(eventually([&] { return server.queries() >= 4; }));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 350ms);
  zone.fail_with(DnsReply::kNoError);
  zone.set({{"node-0.raftkv.test", 7001, "127.0.0.1"}});
  ASSERT_TRUE(eventually([&] { return addresses(*discovery)[1] == "127.0.0.1:7001"; }));
}

}  // namespace
}  // namespace raft
