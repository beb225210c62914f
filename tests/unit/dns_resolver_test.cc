// raft::DnsResolver against the real c-ares, talking to a fake DNS server on
// loopback: SRV ordering by priority and weight, A and AAAA answers, the
// TCP fallback for an answer flagged truncated, and every way an answer
// can fail -- NXDOMAIN, SERVFAIL, silence, an empty
// answer, a cut-off packet, garbled record data.

#include "raft/dns_resolver.h"

#include <gtest/gtest.h>

#include "tests/unit/fake_dns_server.h"

namespace raft {
namespace {

using namespace std::chrono_literals;
using testing::DnsQuery;
using testing::DnsReply;
using testing::FakeDnsServer;

constexpr char kService[] = "_raftkv-peer._tcp.raftkv.test";

std::unique_ptr<DnsResolver> resolver_for(const FakeDnsServer& server,
                                          std::chrono::milliseconds timeout = 300ms, int tries = 2) {
  DnsAnswer<std::unique_ptr<DnsResolver>> created = DnsResolver::create({server.address(), timeout, tries});
  EXPECT_TRUE(created.ok()) << created.detail;
  return std::move(created.records);
}

TEST(DnsResolver, SrvRecordsComeLowestPriorityFirstThenHeaviestWeight) {
  FakeDnsServer server([](const DnsQuery& query) -> std::optional<std::string> {
    return DnsReply(query)
        .srv(20, 100, 7003, "node-2.raftkv.test")
        .srv(10, 5, 7002, "node-1.raftkv.test")
        .srv(10, 60, 7001, "node-0.raftkv.test")
        .srv(10, 5, 7000, "node-1.raftkv.test")
        .bytes();
  });
  auto resolver = resolver_for(server);
  DnsAnswer<std::vector<SrvRecord>> answer = resolver->srv(kService);
  ASSERT_TRUE(answer.ok()) << answer.detail;
  const std::vector<SrvRecord> expected = {{"node-0.raftkv.test", 7001, 10, 60},
                                           {"node-1.raftkv.test", 7000, 10, 5},
                                           {"node-1.raftkv.test", 7002, 10, 5},
                                           {"node-2.raftkv.test", 7003, 20, 100}};
  EXPECT_EQ(answer.records, expected);
}

TEST(DnsResolver, AddressesAreTheARecordsThenTheAaaaRecords) {
  FakeDnsServer server([](const DnsQuery& query) -> std::optional<std::string> {
    DnsReply reply(query);
    if (query.type == DnsReply::kA) reply.a("127.0.0.2").a("127.0.0.3");
    if (query.type == DnsReply::kAaaa) reply.aaaa("::1");
    return reply.bytes();
  });
  auto resolver = resolver_for(server);
  DnsAnswer<std::vector<std::string>> answer = resolver->addresses("node-0.raftkv.test");
  ASSERT_TRUE(answer.ok()) << answer.detail;
  EXPECT_EQ(answer.records, (std::vector<std::string>{"127.0.0.2", "127.0.0.3", "::1"}));
}

TEST(DnsResolver, AnIpv6OnlyHostResolvesAndJoinsInBrackets) {
  FakeDnsServer server([](const DnsQuery& query) -> std::optional<std::string> {
    DnsReply reply(query);
    if (query.type == DnsReply::kAaaa) reply.aaaa("fd00::7");
    return reply.bytes();
  });
  auto resolver = resolver_for(server);
  DnsAnswer<std::vector<std::string>> answer = resolver->addresses("node-0.raftkv.test");
  ASSERT_TRUE(answer.ok()) << answer.detail;
  ASSERT_EQ(answer.records.size(), 1u);
  EXPECT_EQ(join_host_port(answer.records[0], 7001), "[fd00::7]:7001");
  EXPECT_EQ(join_host_port("127.0.0.1", 7001), "127.0.0.1:7001");
}

TEST(DnsResolver, NxdomainIsNoSuchName) {
  FakeDnsServer server([](const DnsQuery& query) -> std::optional<std::string> {
    return DnsReply(query, DnsReply::kNxDomain).bytes();
  });
  DnsAnswer<std::vector<SrvRecord>> answer = resolver_for(server)->srv(kService);
  EXPECT_EQ(answer.failure, DnsFailure::kNoSuchName) << answer.detail;
  EXPECT_NE(answer.detail.find(kService), std::string::npos) << "the message names what was looked up";
}

TEST(DnsResolver, ServfailIsAServerFailure) {
  FakeDnsServer server([](const DnsQuery& query) -> std::optional<std::string> {
    return DnsReply(query, DnsReply::kServFail).bytes();
  });
  DnsAnswer<std::vector<SrvRecord>> answer = resolver_for(server)->srv(kService);
  EXPECT_EQ(answer.failure, DnsFailure::kServerFailure) << answer.detail;
}

TEST(DnsResolver, ASilentServerIsATimeoutAfterEveryTry) {
  FakeDnsServer server([](const DnsQuery&) -> std::optional<std::string> { return std::nullopt; });
  DnsAnswer<std::vector<SrvRecord>> answer = resolver_for(server, 100ms, 3)->srv(kService);
  EXPECT_EQ(answer.failure, DnsFailure::kTimeout) << answer.detail;
  EXPECT_EQ(server.queries(), 3);
}

TEST(DnsResolver, AnAnswerWithoutRecordsIsNoRecords) {
  FakeDnsServer server(
      [](const DnsQuery& query) -> std::optional<std::string> { return DnsReply(query).bytes(); });
  auto resolver = resolver_for(server);
  EXPECT_EQ(resolver->srv(kService).failure, DnsFailure::kNoRecords);
  EXPECT_EQ(resolver->addresses("node-0.raftkv.test").failure, DnsFailure::kNoRecords);
}

TEST(DnsResolver, ADotTargetSaysTheServiceIsNotHere) {
  FakeDnsServer server([](const DnsQuery& query) -> std::optional<std::string> {
    return DnsReply(query).srv(0, 0, 0, "").bytes();
  });
  EXPECT_EQ(resolver_for(server)->srv(kService).failure, DnsFailure::kNoRecords);
}

TEST(DnsResolver, AnAnswerTooLongForUdpIsFetchedAgainOverTcp) {
  FakeDnsServer server([](const DnsQuery& query) -> std::optional<std::string> {
    if (!query.over_tcp) return DnsReply(query).truncated().bytes();
    return DnsReply(query).srv(10, 10, 7001, "node-0.raftkv.test").bytes();
  });
  DnsAnswer<std::vector<SrvRecord>> answer = resolver_for(server)->srv(kService);
  ASSERT_TRUE(answer.ok()) << answer.detail;
  EXPECT_EQ(answer.records, (std::vector<SrvRecord>{{"node-0.raftkv.test", 7001, 10, 10}}));
  EXPECT_EQ(server.queries(), 2) << "once over UDP, once over TCP";
}

TEST(DnsResolver, AnAnswerCutOffInsideARecordIsMalformed) {
  FakeDnsServer server([](const DnsQuery& query) -> std::optional<std::string> {
    const std::string whole = DnsReply(query).srv(10, 10, 7001, "node-0.raftkv.test").bytes();
    return whole.substr(0, whole.size() - 9);  // into the SRV target
  });
  DnsAnswer<std::vector<SrvRecord>> answer = resolver_for(server)->srv(kService);
  EXPECT_EQ(answer.failure, DnsFailure::kMalformed) << answer.detail;
}

TEST(DnsResolver, GarbledRecordDataIsMalformed) {
  FakeDnsServer server([](const DnsQuery& query) -> std::optional<std::string> {
    DnsReply reply(query);
    if (query.type == DnsReply::kSrv)
      reply.record(DnsReply::kSrv, std::string("\x00\x01\x00", 3));          // 3 of 6+ bytes
    if (query.type == DnsReply::kA) reply.record(DnsReply::kA, "\x7f\x00");  // 2 of 4 bytes
    return reply.bytes();
  });
  auto resolver = resolver_for(server);
  EXPECT_EQ(resolver->srv(kService).failure, DnsFailure::kMalformed);
  // c-ares skips an A record of the wrong length: no bogus address, none.
  DnsAnswer<std::vector<std::string>> addresses = resolver->addresses("node-0.raftkv.test");
  EXPECT_EQ(addresses.failure, DnsFailure::kNoRecords) << addresses.detail;
  EXPECT_TRUE(addresses.records.empty());
}

TEST(DnsResolver, AServerThatIsNotAnAddressIsRefusedAtCreation) {
  DnsAnswer<std::unique_ptr<DnsResolver>> created = DnsResolver::create({"not a server::", 100ms, 1});
  EXPECT_FALSE(created.ok());
  EXPECT_NE(created.detail.find("not a server::"), std::string::npos) << created.detail;
}

}  // namespace
}  // namespace raft
