// Five raftkvd processes that know nothing of each other but a domain, a
// DNS server and a cluster token: Debian's dnsmasq on 127.0.0.1 serves the
// SRV and A records, the members find each other and elect a leader, kvctl
// finds them the same way; then a member moves to another address, its A
// record changes, and the others -- never restarted -- reach it there.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "proto/kv.grpc.pb.h"
#include "tests/integration/child_process.h"
#include "tests/integration/dnsmasq.h"
#include "tests/integration/free_port.h"
#include "tests/integration/read_file.h"
#include "tests/unit/eventually.h"
#include "tests/unit/temporary_directory.h"

namespace raftkv {
namespace {

using namespace std::chrono_literals;
using raft::testing::ChildProcess;
using raft::testing::Dnsmasq;
using raft::testing::eventually;
using raft::testing::free_port;
using raft::testing::read_file;
using raft::testing::TemporaryDirectory;

constexpr int kMembers = 5;
constexpr char kZone[] = "raftkv.test";

std::string host_of(int id) {
  return "node-" + std::to_string(id - 1) + "." + kZone;  // member 1 is node-0
}

class DnsCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Dnsmasq::installed())
        << "dnsmasq is missing: tools/setup/install-deps.sh installs dnsmasq-base";
    std::vector<Dnsmasq::Srv> records;
    std::map<std::string, std::string> hosts;
    for (int id = 1; id <= kMembers; ++id) {
      peer_port_[id] = free_port();
      client_port_[id] = free_port();
      records.push_back({std::string("_raftkv-peer._tcp.") + kZone, host_of(id), peer_port_[id]});
      records.push_back({std::string("_raftkv-client._tcp.") + kZone, host_of(id), client_port_[id]});
      hosts[host_of(id)] = "127.0.0.1";
      ip_[id] = "127.0.0.1";
    }
    dns_ = std::make_unique<Dnsmasq>(scratch_.path(), kZone, records, hosts);
    ASSERT_TRUE(dns_->ready()) << read_file(dns_->log());
  }

  // Starts member `id` at its current address. No --id, no --peers: the id
  // comes from --name, the members from DNS.
  void start(int id) {
    const std::string ip = ip_[id];
    const std::string arguments =
        "--name node-" + std::to_string(id - 1) + " --cluster-token dns-test --discovery-srv " + kZone +
        " --dns-server " + dns_->address() + " --data-dir " + scratch_.sub("node-" + std::to_string(id)) +
        " --listen-peer " + ip + ":" + std::to_string(peer_port_[id]) + " --listen-client " + ip + ":" +
        std::to_string(client_port_[id]) +
        // A long refresh: a moved member must be found because it stopped
        // answering, not because the timer came round.
        " --dns-refresh-ms 600000 --tick-ms 20";
    processes_[id] = std::make_unique<ChildProcess>(std::vector<std::string>{
        "/bin/sh", "-c", "exec " + std::string(RAFTKVD) + " " + arguments + " >>" + log(id) + " 2>&1"});
  }

  std::string log(int id) const { return scratch_.sub("raftkvd-" + std::to_string(id) + ".log"); }
  std::string logs() const {
    std::string all;
    for (int id = 1; id <= kMembers; ++id)
      all += "--- member " + std::to_string(id) + "\n" + read_file(log(id));
    return all + "--- dnsmasq\n" + read_file(dns_->log());
  }
  std::string client_address(int id) { return ip_[id] + ":" + std::to_string(client_port_[id]); }

  std::unique_ptr<api::Admin::Stub> admin(int id) {
    return api::Admin::NewStub(grpc::CreateChannel(client_address(id), grpc::InsecureChannelCredentials()));
  }

  // kvctl with the endpoints from DNS; its exit status, its output in
  // `output`.
  int kvctl(const std::string& arguments, std::string* output = nullptr, const std::string& zone = kZone) {
    const std::string out = scratch_.sub("kvctl.out");
    ChildProcess process({"/bin/sh", "-c",
                          "exec " + std::string(KVCTL) + " --discovery-srv " + zone + " --dns-server " +
                              dns_->address() + " --command-timeout 10 " + arguments + " >" + out + " 2>&1"});
    const std::optional<int> status = process.wait_exit(30s);
    if (output != nullptr) *output = read_file(out);
    return status.value_or(-2);
  }

  // The leader every member names, or 0.
  std::uint64_t agreed_leader() {
    std::uint64_t agreed = 0;
    eventually([&] {
      std::set<std::uint64_t> seen;
      for (int id = 1; id <= kMembers; ++id) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + 1s);
        api::StatusResponse status;
        if (!admin(id)->Status(&context, api::StatusRequest(), &status).ok()) return false;
        seen.insert(status.leader());
      }
      agreed = seen.size() == 1 ? *seen.begin() : 0;
      return agreed != 0;
    });
    return agreed;
  }

  TemporaryDirectory scratch_;
  std::unique_ptr<Dnsmasq> dns_;
  std::map<int, int> peer_port_, client_port_;
  std::map<int, std::string> ip_;
  std::map<int, std::unique_ptr<ChildProcess>> processes_;
};

TEST_F(DnsCluster, FiveMembersFindEachOtherByDnsAndFollowAMemberThatMoved) {
  for (int id = 1; id <= kMembers; ++id) start(id);
  ASSERT_NE(agreed_leader(), 0u) << logs();

  std::string output;
  ASSERT_EQ(kvctl("put greeting hello", &output), 0) << output << logs();
  ASSERT_EQ(kvctl("get greeting", &output), 0) << output;
  EXPECT_EQ(output, "greeting\nhello\n");
  ASSERT_EQ(kvctl("-o json endpoint status", &output), 0) << output;
  for (int id = 1; id <= kMembers; ++id) {
    EXPECT_NE(output.find(client_address(id)), std::string::npos) << "kvctl found every member: " << output;
  }

  // Member 3 moves to 127.0.0.2: stopped, its A record changed, restarted
  // there on its own data.
  processes_[3]->send_signal(SIGTERM);
  ASSERT_EQ(processes_[3]->wait_exit(20s), 0) << read_file(log(3));
  ASSERT_TRUE(dns_->move_host(host_of(3), "127.0.0.2"));
  ip_[3] = "127.0.0.2";
  start(3);

  // Nothing but DNS tells the others. The leader, whose messages to the
  // old address go unanswered, looks again at once (the refresh is ten
  // minutes away) and reaches member 3 where it is now: all five agree on
  // a leader again, and the leader's member list shows the new address.
  const std::uint64_t leader = agreed_leader();
  ASSERT_NE(leader, 0u) << logs();
  const std::string moved_peer = "127.0.0.2:" + std::to_string(peer_port_[3]);
  EXPECT_TRUE(eventually([&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 1s);
    api::MemberListResponse members;
    if (!admin(static_cast<int>(leader))->MemberList(&context, api::MemberListRequest(), &members).ok()) {
      return false;
    }
    for (const api::Member& member : members.members()) {
      if (member.id() == 3) return member.peer_address() == moved_peer;
    }
    return false;
  })) << logs();
  // A write made after the move reaches member 3 at its new address.
  ASSERT_EQ(kvctl("put after-the-move yes", &output), 0) << output << logs();
  EXPECT_TRUE(eventually([&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 1s);
    api::RangeRequest request;
    request.set_key("after-the-move");
    request.set_serializable(true);  // member 3's own state
    api::RangeResponse response;
    auto stub = api::KV::NewStub(grpc::CreateChannel(client_address(3), grpc::InsecureChannelCredentials()));
    return stub->Range(&context, request, &response).ok() && response.kvs_size() == 1 &&
           response.kvs(0).value() == "yes";
  })) << logs();
  for (int id : {1, 2, 4, 5}) {
    EXPECT_EQ(processes_[id]->wait_exit(0ms), std::nullopt) << "member " << id << " kept running throughout";
  }
}

TEST_F(DnsCluster, KvctlSaysWhyDnsGaveItNoEndpoints) {
  std::string output;
  EXPECT_EQ(kvctl("get greeting", &output, std::string("elsewhere.") + kZone), 1);
  EXPECT_NE(output.find("NXDOMAIN"), std::string::npos) << output;
  EXPECT_NE(output.find("_raftkv-client._tcp.elsewhere.raftkv.test"), std::string::npos) << output;
}

}  // namespace
}  // namespace raftkv
