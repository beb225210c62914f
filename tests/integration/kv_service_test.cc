// The KV and Admin gRPC services on three members in one process, with everything
// real below it: gRPC on loopback for clients and peers, RocksDB storage,
// snapshot files, kv::Store. Reads and writes through every member,
// follower forwarding, the error codes of design.md, sessions, and what a
// minority answers.

#include "kvstore/kv_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "daemon/node_storage.h"
#include "kvstore/admin_service.h"
#include "raft/grpc_transport.h"
#include "raft/static_discovery.h"
#include "tests/unit/eventually.h"
#include "tests/unit/temporary_directory.h"

namespace kv {
namespace {

using namespace std::chrono_literals;
namespace api = raftkv::api;

constexpr std::uint64_t kCluster = 11;

struct Member {
  std::shared_ptr<raft::GrpcTransport> transport;
  std::unique_ptr<raftkv::NodeStorage> storage;
  std::unique_ptr<raft::Server> server;
  std::unique_ptr<KvService> service;
  std::unique_ptr<AdminService> admin;
  std::unique_ptr<grpc::Server> client_server;
  std::string client_address;
};

class ThreeMembers : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<raft::Peer> peers;
    for (raft::NodeId id = 1; id <= 3; ++id) {
      raft::GrpcTransportOptions options;
      options.cluster_id = kCluster;
      options.listen_address = "127.0.0.1:0";
      options.min_backoff = 20ms;
      members_[id].transport = std::make_shared<raft::GrpcTransport>(options);
      ASSERT_TRUE(members_[id].transport->listen().ok());
      peers.push_back({id, "127.0.0.1:" + std::to_string(members_[id].transport->listening_port())});
    }
    // Every transport knows the members before any server starts, so that
    // the first member's streams are not refused by one not started yet.
    for (raft::NodeId id = 1; id <= 3; ++id) members_[id].transport->set_peers(peers);
    discovery_ = std::make_shared<raft::StaticDiscovery>(peers);
    std::map<raft::NodeId, std::string> addresses;
    for (raft::NodeId id = 1; id <= 3; ++id) {
      Member& member = members_[id];
      auto storage = raftkv::NodeStorage::open(root_.sub("node-" + std::to_string(id)), {kCluster, id},
                                               raftkv::NodeStorage::Mode::kCreateIfMissing);
      ASSERT_TRUE(storage.ok()) << storage.error().to_string();
      member.storage = std::make_unique<raftkv::NodeStorage>(std::move(storage).value());
      raft::ServerOptions options;
      options.core.id = id;
      options.core.random_seed = id;
      options.tick_interval = 10ms;
      member.server =
          std::make_unique<raft::Server>(options, member.storage->raft(), member.storage->snapshots(),
                                         member.transport, discovery_, member.storage->store());
      if (start_raft_at_setup()) {
        ASSERT_TRUE(member.server->start().ok());
      }
      KvServiceOptions service_options;
      service_options.cluster_id = kCluster;
      service_options.member_id = id;
      service_options.default_timeout = 2s;
      service_options.leader_wait = leader_wait_;
      member.service = std::make_unique<KvService>(service_options, *member.server, *member.storage->store());
      grpc::ServerBuilder builder;
      int port = 0;
      builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
      builder.RegisterService(member.service.get());
      AdminServiceOptions admin_options;
      admin_options.cluster_id = kCluster;
      admin_options.member_id = id;
      admin_options.data_directory = root_.sub("node-" + std::to_string(id));
      member.admin = std::make_unique<AdminService>(admin_options, *member.server, *member.storage->store());
      builder.RegisterService(member.admin.get());
      member.client_server = builder.BuildAndStart();
      ASSERT_NE(port, 0);
      member.client_address = "127.0.0.1:" + std::to_string(port);
      addresses[id] = member.client_address;
    }
    std::vector<api::Member> listed;
    for (raft::NodeId id = 1; id <= 3; ++id) {
      api::Member& member = listed.emplace_back();
      member.set_id(id);
      member.set_peer_address(peers[id - 1].address);
      member.set_client_address(addresses[id]);
    }
    for (auto& [id, member] : members_) {
      member.service->set_client_addresses(addresses);
      member.admin->set_members(listed);
    }
  }

  void TearDown() override {
    for (auto& [id, member] : members_) stop(id);
  }

  // Whether SetUp starts every member's Raft server (or leaves it to the test).
  virtual bool start_raft_at_setup() const { return true; }
  // How long a request waits for a leader to be known.
  std::chrono::milliseconds leader_wait_{1000};

  void stop(raft::NodeId id) {
    Member& member = members_[id];
    if (member.client_server) member.client_server->Shutdown(std::chrono::system_clock::now() + 1s);
    member.client_server.reset();
    if (member.server) member.server->stop();
  }

  raft::NodeId leader() {
    raft::NodeId found = raft::kNoNode;
    raft::testing::eventually([&] {
      for (auto& [id, member] : members_) {
        if (member.server && member.server->status().role == raft::Role::kLeader) found = id;
      }
      return found != raft::kNoNode;
    });
    return found;
  }

  std::unique_ptr<api::Admin::Stub> admin(raft::NodeId id) {
    return api::Admin::NewStub(
        grpc::CreateChannel(members_[id].client_address, grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<api::KV::Stub> client(raft::NodeId id) {
    return api::KV::NewStub(
        grpc::CreateChannel(members_[id].client_address, grpc::InsecureChannelCredentials()));
  }

  grpc::Status put(raft::NodeId via, const std::string& key, const std::string& value,
                   api::PutResponse* response, std::uint64_t client_id = 0, std::uint64_t sequence = 0) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    api::PutRequest request;
    request.set_key(key);
    request.set_value(value);
    request.mutable_session()->set_client_id(client_id);
    request.mutable_session()->set_sequence(sequence);
    return client(via)->Put(&context, request, response);
  }

  // Puts k=v through `via`; `not_applied` says whether the answer carried
  // the trailer of a write that certainly did not apply.
  grpc::Status put_k(raft::NodeId via, bool& not_applied) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    api::PutRequest request;
    request.set_key("k");
    request.set_value("v");
    api::PutResponse response;
    const grpc::Status status = client(via)->Put(&context, request, &response);
    not_applied = context.GetServerTrailingMetadata().count(kNotAppliedTrailer) == 1;
    return status;
  }

  grpc::Status get(raft::NodeId via, const std::string& key, api::RangeResponse* response,
                   bool serializable = false) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    api::RangeRequest request;
    request.set_key(key);
    request.set_serializable(serializable);
    return client(via)->Range(&context, request, response);
  }

  raft::testing::TemporaryDirectory root_;
  std::shared_ptr<raft::StaticDiscovery> discovery_;
  std::map<raft::NodeId, Member> members_;
};

TEST_F(ThreeMembers, WritesThroughAnyMemberAreReadLinearizablyEverywhere) {
  const raft::NodeId first = leader();
  ASSERT_NE(first, raft::kNoNode);
  for (raft::NodeId via = 1; via <= 3; ++via) {
    api::PutResponse put_response;
    const grpc::Status status =
        put(via, "key-" + std::to_string(via), "value-" + std::to_string(via), &put_response);
    ASSERT_TRUE(status.ok()) << via << ": " << status.error_message();
    EXPECT_EQ(put_response.header().cluster_id(), kCluster);
    EXPECT_GT(put_response.header().revision(), 0u);
  }
  for (raft::NodeId via = 1; via <= 3; ++via) {
    for (raft::NodeId written = 1; written <= 3; ++written) {
      api::RangeResponse response;
      ASSERT_TRUE(get(via, "key-" + std::to_string(written), &response).ok());
      ASSERT_EQ(response.kvs_size(), 1) << "a linearizable read sees every acknowledged write";
      EXPECT_EQ(response.kvs(0).value(), "value-" + std::to_string(written));
      EXPECT_EQ(response.header().member_id(), via);
    }
  }
}

TEST_F(ThreeMembers, BadRequestsGetInvalidArgumentAndChangeNothing) {
  ASSERT_NE(leader(), raft::kNoNode);
  api::PutResponse response;
  grpc::Status status = put(1, "", "v", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "the key is empty");
  status = put(2, std::string(Store::kMaxKeyBytes + 1, 'k'), "v", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  status = put(3, "k", std::string(Store::kMaxValueBytes + 1, 'v'), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("over the limit of 1048576"), std::string::npos)
      << status.error_message();
  api::RangeResponse range;
  EXPECT_EQ(get(1, "", &range).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// The services listen before Raft runs: a test starts the servers itself.
class ThreeMembersStartingLater : public ThreeMembers {
 protected:
  ThreeMembersStartingLater() { leader_wait_ = 30s; }
  bool start_raft_at_setup() const override { return false; }
};

TEST_F(ThreeMembersStartingLater, RequestsThatArriveBeforeAnyLeaderWaitForTheElection) {
  // Member 3 alone cannot elect anyone: while the write arrives there is
  // certainly no leader. Members hold such requests until one is known
  // instead of refusing them.
  ASSERT_TRUE(members_[3].server->start().ok());
  grpc::Status put_status;
  std::jthread early_write([&] {  // joined however the test ends
    api::PutResponse put_response;
    put_status = put(3, "early", "bird", &put_response);
  });
  ASSERT_TRUE(raft::testing::eventually([&] { return members_[3].service->in_flight() == 1; }));
  EXPECT_EQ(members_[3].server->status().leader, raft::kNoNode);
  for (raft::NodeId id : {1, 2}) ASSERT_TRUE(members_[id].server->start().ok());
  early_write.join();
  ASSERT_TRUE(put_status.ok()) << put_status.error_message();
  api::RangeResponse range;
  const grpc::Status get_status = get(2, "early", &range);
  ASSERT_TRUE(get_status.ok()) << get_status.error_message();
  EXPECT_EQ(range.kvs(0).value(), "bird");
}

TEST_F(ThreeMembers, ALostCompareAndSwapIsFailedPrecondition) {
  ASSERT_NE(leader(), raft::kNoNode);
  api::PutResponse put_response;
  ASSERT_TRUE(put(1, "lock", "free", &put_response).ok());
  auto cas = [&](const std::string& expected, const std::string& next) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    api::TxnRequest request;
    api::Compare* compare = request.add_compare();
    compare->set_key("lock");
    compare->set_target(api::Compare::VALUE);
    compare->set_value(expected);
    api::PutRequest* swap = request.add_success()->mutable_put();
    swap->set_key("lock");
    swap->set_value(next);
    api::TxnResponse response;
    return client(2)->Txn(&context, request, &response);
  };
  EXPECT_TRUE(cas("free", "taken").ok());
  const grpc::Status lost = cas("free", "mine");
  EXPECT_EQ(lost.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << lost.error_message();
  api::RangeResponse range;
  ASSERT_TRUE(get(3, "lock", &range).ok());
  EXPECT_EQ(range.kvs(0).value(), "taken");
}

TEST_F(ThreeMembers, ARetriedWriteWithASessionAppliesOnce) {
  ASSERT_NE(leader(), raft::kNoNode);
  api::PutResponse first, retry;
  ASSERT_TRUE(put(1, "counter", "1", &first, /*client_id=*/77, /*sequence=*/1).ok());
  ASSERT_TRUE(put(2, "counter", "1", &retry, 77, 1).ok());
  EXPECT_EQ(retry.header().revision(), first.header().revision()) << "the first attempt's answer";
  api::RangeResponse range;
  ASSERT_TRUE(get(3, "counter", &range).ok());
  EXPECT_EQ(range.kvs(0).version(), 1u);
}

TEST_F(ThreeMembers, AMinorityCannotWriteButStillAnswersSerializableReads) {
  const raft::NodeId first = leader();
  ASSERT_NE(first, raft::kNoNode);
  api::PutResponse put_response;
  ASSERT_TRUE(put(first, "before", "x", &put_response).ok());
  const raft::NodeId survivor = first % 3 + 1;
  for (raft::NodeId id = 1; id <= 3; ++id) {
    if (id != survivor) stop(id);
  }
  const auto started = std::chrono::steady_clock::now();
  const grpc::Status write = put(survivor, "after", "y", &put_response);
  EXPECT_TRUE(write.error_code() == grpc::StatusCode::UNAVAILABLE ||
              write.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
      << write.error_code() << " " << write.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 6s) << "within the deadline";
  api::RangeResponse range;
  ASSERT_TRUE(get(survivor, "before", &range, /*serializable=*/true).ok());
  EXPECT_EQ(range.kvs(0).value(), "x");
  const grpc::Status linearizable = get(survivor, "before", &range);
  EXPECT_FALSE(linearizable.ok()) << "a linearizable read needs a majority";
}

TEST_F(ThreeMembers, AWriteRefusedBeforeItWasProposedSaysItWasNotApplied) {
  const raft::NodeId first = leader();
  ASSERT_NE(first, raft::kNoNode);
  const raft::NodeId survivor = first % 3 + 1;  // a follower
  for (raft::NodeId id = 1; id <= 3; ++id) {
    if (id != survivor) stop(id);
  }
  // Once the survivor's election timeout passes it knows no leader, and a
  // write can only be refused, before any proposal.
  ASSERT_TRUE(raft::testing::eventually(
      [&] { return members_[survivor].server->status().leader == raft::kNoNode; }, 5s));
  bool not_applied = false;
  const grpc::Status refused = put_k(survivor, not_applied);
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_TRUE(not_applied) << "no " << kNotAppliedTrailer << " trailer: " << refused.error_message();
}

TEST_F(ThreeMembers, AWriteForwardedToALeaderNoLongerListeningSaysItWasNotApplied) {
  const raft::NodeId first = leader();
  ASSERT_NE(first, raft::kNoNode);
  const raft::NodeId follower = first % 3 + 1;
  // The leader stops serving clients but keeps leading, so its followers
  // still forward to it: like a leader killed a moment ago, before its
  // followers' election timeouts. The forward cannot connect, so the write
  // certainly did not apply, and the client may try another member.
  members_[first].client_server->Shutdown(std::chrono::system_clock::now() + 1s);
  members_[first].client_server.reset();
  // A follower learns of a new leader from its first AppendEntries.
  ASSERT_TRUE(
      raft::testing::eventually([&] { return members_[follower].server->status().leader == first; }, 5s));
  bool not_applied = false;
  const grpc::Status refused = put_k(follower, not_applied);
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_NE(refused.error_message().find("forwarded to the leader, member " + std::to_string(first)),
            std::string::npos)
      << refused.error_message();
  EXPECT_TRUE(not_applied) << "no " << kNotAppliedTrailer << " trailer: " << refused.error_message();
}

TEST_F(ThreeMembers, MembersThatAppliedTheSameLogHaveTheSameStateDigest) {
  ASSERT_NE(leader(), raft::kNoNode);
  for (int i = 0; i < 50; ++i) {
    api::PutResponse response;
    ASSERT_TRUE(put(static_cast<raft::NodeId>(i % 3 + 1), "key-" + std::to_string(i % 7), std::to_string(i),
                    &response)
                    .ok());
  }
  std::map<raft::NodeId, api::StateDigest> digests;
  EXPECT_TRUE(raft::testing::eventually([&] {
    for (raft::NodeId id = 1; id <= 3; ++id) {
      grpc::ClientContext context;
      api::StatusRequest request;
      request.set_with_state_digest(true);
      api::StatusResponse status;
      if (!admin(id)->Status(&context, request, &status).ok()) return false;
      digests[id] = status.state();
    }
    return digests[1].applied_index() == digests[2].applied_index() &&
           digests[2].applied_index() == digests[3].applied_index();
  }));
  EXPECT_EQ(digests[1].keys(), 7u);
  EXPECT_EQ(digests[1].digest(), digests[2].digest());
  EXPECT_EQ(digests[2].digest(), digests[3].digest());
  EXPECT_NE(digests[1].digest(), 0u);

  grpc::ClientContext context;
  api::StatusResponse plain;
  ASSERT_TRUE(admin(1)->Status(&context, api::StatusRequest(), &plain).ok());
  EXPECT_FALSE(plain.has_state()) << "digested only when asked";
}

TEST_F(ThreeMembers, StatusHealthAndMembersDescribeTheCluster) {
  const raft::NodeId first = leader();
  ASSERT_NE(first, raft::kNoNode);
  api::PutResponse put_response;
  ASSERT_TRUE(put(first, "k", "v", &put_response).ok());
  // The put needed a majority; the third member catches up right after.
  api::StatusResponse status;
  EXPECT_TRUE(raft::testing::eventually([&] {
    grpc::ClientContext context;
    if (!admin(first)->Status(&context, api::StatusRequest(), &status).ok()) return false;
    return std::all_of(status.peers().begin(), status.peers().end(),
                       [](const api::PeerProgress& peer) { return peer.match_index() > 0; });
  }));
  EXPECT_EQ(status.role(), "leader");
  EXPECT_EQ(status.leader(), first);
  EXPECT_EQ(status.header().member_id(), first);
  EXPECT_GE(status.commit_index(), put_response.header().revision());
  EXPECT_GT(status.data_bytes(), 0u);
  ASSERT_EQ(status.peers_size(), 2);

  for (raft::NodeId id = 1; id <= 3; ++id) {
    grpc::ClientContext health_context;
    api::HealthResponse health;
    ASSERT_TRUE(admin(id)->Health(&health_context, api::HealthRequest(), &health).ok());
    EXPECT_TRUE(health.healthy()) << id << ": " << health.reason();
  }
  grpc::ClientContext list_context;
  api::MemberListResponse members;
  ASSERT_TRUE(admin(2)->MemberList(&list_context, api::MemberListRequest(), &members).ok());
  ASSERT_EQ(members.members_size(), 3);
  EXPECT_EQ(members.members(2).client_address(), members_[3].client_address);
}

TEST_F(ThreeMembers, LeadershipMovesToTheTargetWhereverTheRequestArrives) {
  const raft::NodeId first = leader();
  ASSERT_NE(first, raft::kNoNode);
  const raft::NodeId target = first % 3 + 1;
  const raft::NodeId via = target % 3 + 1;  // the other follower
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  api::TransferLeadershipRequest request;
  request.set_target(target);
  api::TransferLeadershipResponse response;
  const grpc::Status status = admin(via)->TransferLeadership(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(raft::testing::eventually(
      [&] { return members_[target].server->status().role == raft::Role::kLeader; }, 5s));
  grpc::ClientContext bad_context;
  request.set_target(9);
  const grpc::Status bad = admin(target)->TransferLeadership(&bad_context, request, &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad.error_message();
}

}  // namespace
}  // namespace kv
