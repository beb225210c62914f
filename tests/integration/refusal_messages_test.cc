// Every refusal a client can get from raftkvd says what happened: a walk
// through each path that ends a call in an error -- bad bytes and bad
// fields for every method, unknown methods on both ports, limits, stale
// sessions, failed compares, bad membership changes, a lost quorum, a full
// member and a removed one -- against real processes, asserting the status
// code and a message naming the problem. (What each message says in full is
// the business of the tests of each feature; here the point is that none is
// empty, including the answers gRPC itself would give without one.)

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "proto/kv.grpc.pb.h"
#include "proto/raft.pb.h"
#include "raft/grpc_status_name.h"
#include "tests/integration/process_cluster.h"
#include "tests/integration/raw_call.h"

namespace raftkv {
namespace {

namespace api = raftkv::api;
using raft::testing::raw_call;
using std::chrono::seconds;

// Bytes that are no protobuf message: field 1, length 5, then only 2 bytes.
const std::string kNotAMessage(
    "\x0a\x05"
    "ab",
    4);

class RefusalMessages : public ProcessCluster {
 protected:
  template <typename Request>
  static grpc::Status call(const std::string& address, const std::string& method, const Request& request,
                           seconds timeout = seconds(10)) {
    return raft::testing::raw_call(address, method, request.SerializeAsString(), timeout);
  }

  // One refusal path: `status` must be `code` with a message that holds
  // `says`.
  void expect_refused(const std::string& path, const grpc::Status& status, grpc::StatusCode code,
                      const std::string& says) {
    ++walked_;
    EXPECT_EQ(status.error_code(), code) << path << ": " << status.error_message();
    EXPECT_FALSE(status.error_message().empty())
        << path << ": " << raft::status_code_name(status.error_code()) << " without a message";
    EXPECT_NE(status.error_message().find(says), std::string::npos)
        << path << ": the message does not say \"" << says << "\": " << status.error_message();
  }
  // As above where more than one code is right (a lost quorum is seen as
  // "no leader" or as a deadline, depending on when the member noticed).
  void expect_refused_as_one_of(const std::string& path, const grpc::Status& status,
                                const std::vector<grpc::StatusCode>& codes) {
    ++walked_;
    EXPECT_NE(std::find(codes.begin(), codes.end(), status.error_code()), codes.end())
        << path << ": " << raft::status_code_name(status.error_code()) << ": " << status.error_message();
    EXPECT_FALSE(status.error_message().empty())
        << path << ": " << raft::status_code_name(status.error_code()) << " without a message";
  }

  void TearDown() override {
    std::cout << "walked " << walked_ << " refusal paths\n";
    if (HasFailure()) std::cout << cluster_state();
  }

  int walked_ = 0;
};

api::PutRequest put_request(const std::string& key, const std::string& value) {
  api::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  return request;
}

TEST_F(RefusalMessages, BadRequestsToEveryMethodAndPortAreRefusedWithAMessage) {
  start_cluster(3);
  ASSERT_NE(leader({1, 2, 3}), 0u) << cluster_state();
  const std::string client = client_[1];
  const std::string peer = peer_[1];
  const auto invalid = grpc::StatusCode::INVALID_ARGUMENT;

  // Bytes that are not the method's request, for every method of both
  // services (the KV methods parse their own bytes; gRPC answers the Admin
  // methods' itself, with no message, unless raftkvd fills one in).
  const std::vector<std::pair<std::string, std::string>> methods = {
      {"/raftkv.api.KV/Put", "raftkv.api.PutRequest"},
      {"/raftkv.api.KV/Range", "raftkv.api.RangeRequest"},
      {"/raftkv.api.KV/Delete", "raftkv.api.DeleteRequest"},
      {"/raftkv.api.KV/Txn", "raftkv.api.TxnRequest"},
      {"/raftkv.api.Admin/Status", "raftkv.api.StatusRequest"},
      {"/raftkv.api.Admin/Health", "raftkv.api.HealthRequest"},
      {"/raftkv.api.Admin/MemberList", "raftkv.api.MemberListRequest"},
      {"/raftkv.api.Admin/TransferLeadership", "raftkv.api.TransferLeadershipRequest"},
      {"/raftkv.api.Admin/MemberAdd", "raftkv.api.MemberAddRequest"},
      {"/raftkv.api.Admin/MemberPromote", "raftkv.api.MemberPromoteRequest"},
      {"/raftkv.api.Admin/MemberRemove", "raftkv.api.MemberRemoveRequest"},
      {"/raftkv.api.Admin/SnapshotSave", "raftkv.api.SnapshotSaveRequest"},
  };
  for (const auto& [method, request_type] : methods) {
    expect_refused("undecodable bytes to " + method, raw_call(client, method, kNotAMessage), invalid,
                   request_type);
  }

  // Methods nobody serves, and the client API asked of the peer port.
  const auto unimplemented = grpc::StatusCode::UNIMPLEMENTED;
  expect_refused("an unknown KV method", raw_call(client, "/raftkv.api.KV/Watch", ""), unimplemented,
                 "/raftkv.api.KV/Watch is not served here: raftkvd's client port serves raftkv.api.KV");
  expect_refused("etcd's API", raw_call(client, "/etcdserverpb.KV/Range", ""), unimplemented,
                 "/etcdserverpb.KV/Range is not served here");
  expect_refused("the client API on the peer port", call(peer, "/raftkv.api.KV/Put", put_request("k", "v")),
                 unimplemented, "this is a Raft peer port");
  expect_refused("the admin API on the peer port", raw_call(peer, "/raftkv.api.Admin/Status", ""),
                 unimplemented, "clients use a member's client port");

  // Bytes on the peer stream that are no Raft message, and a message from
  // another cluster.
  expect_refused("undecodable bytes on the peer stream",
                 raw_call(peer, "/raft.pb.RaftPeer/Stream", kNotAMessage), invalid, "not a raft.pb.Message");
  raft::pb::Message stranger;
  stranger.set_cluster_id(1);  // the cluster's is 9
  stranger.set_from(2);
  stranger.set_to(1);
  stranger.set_term(1);
  stranger.mutable_request_vote();
  expect_refused("a peer message from another cluster", call(peer, "/raft.pb.RaftPeer/Stream", stranger),
                 grpc::StatusCode::PERMISSION_DENIED, "cluster");

  // Fields the store refuses.
  expect_refused("a put of an empty key", call(client, "/raftkv.api.KV/Put", put_request("", "v")), invalid,
                 "the key is empty");
  expect_refused("a put of a key over the limit",
                 call(client, "/raftkv.api.KV/Put", put_request(std::string(4097, 'k'), "v")), invalid,
                 "over the limit");
  expect_refused("a put of a value over the limit",
                 call(client, "/raftkv.api.KV/Put", put_request("k", std::string((1 << 20) + 1, 'v'))),
                 invalid, "the value is");
  expect_refused("a request over the member's message limit",
                 call(client, "/raftkv.api.KV/Put", put_request("k", std::string(8 << 20, 'v'))),
                 grpc::StatusCode::RESOURCE_EXHAUSTED, "larger than max");
  {
    api::RangeRequest range;
    expect_refused("a range of an empty key", call(client, "/raftkv.api.KV/Range", range), invalid,
                   "the key is empty");
    range.set_key(std::string(4097, 'k'));
    expect_refused("a range of a key over the limit", call(client, "/raftkv.api.KV/Range", range), invalid,
                   "over the limit");
    range.set_key("k");
    range.set_limit(-1);
    expect_refused("a range with a negative limit", call(client, "/raftkv.api.KV/Range", range), invalid,
                   "the limit is negative");
  }
  expect_refused("a delete of an empty key", call(client, "/raftkv.api.KV/Delete", api::DeleteRequest()),
                 invalid, "the key is empty");
  {
    api::TxnRequest empty_op;
    empty_op.add_success();
    expect_refused("a transaction with an empty operation", call(client, "/raftkv.api.KV/Txn", empty_op),
                   invalid, "a transaction operation is empty");
    api::TxnRequest keyless_compare;
    keyless_compare.add_compare();
    expect_refused("a transaction comparing an empty key",
                   call(client, "/raftkv.api.KV/Txn", keyless_compare), invalid, "the key is empty");
    api::TxnRequest failing;
    api::Compare* compare = failing.add_compare();
    compare->set_key("never-written");
    compare->set_target(api::Compare::VERSION);
    compare->set_result(api::Compare::GREATER);
    compare->set_number(0);
    *failing.add_success()->mutable_put() = put_request("k", "v");
    expect_refused("a transaction whose compares fail", call(client, "/raftkv.api.KV/Txn", failing),
                   grpc::StatusCode::FAILED_PRECONDITION, "nothing was written");
  }
  {
    api::PutRequest sequenced = put_request("session-key", "v");
    sequenced.mutable_session()->set_client_id(77);
    sequenced.mutable_session()->set_sequence(2);
    ASSERT_TRUE(call(client, "/raftkv.api.KV/Put", sequenced).ok());
    sequenced.mutable_session()->set_sequence(1);
    expect_refused("a put behind its session's sequence", call(client, "/raftkv.api.KV/Put", sequenced),
                   invalid, "session 77 is already at sequence 2");
  }
  expect_refused("a put past its deadline",
                 call(client, "/raftkv.api.KV/Put", put_request("k", "v"), seconds(0)),
                 grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline");

  // Membership and leadership requests that cannot be carried out.
  api::TransferLeadershipRequest transfer;
  expect_refused("a transfer without a target",
                 call(client, "/raftkv.api.Admin/TransferLeadership", transfer), invalid,
                 "the target member id is missing");
  transfer.set_target(9);
  expect_refused_as_one_of("a transfer to a member that does not exist",
                           call(client, "/raftkv.api.Admin/TransferLeadership", transfer),
                           {invalid, grpc::StatusCode::FAILED_PRECONDITION});
  api::MemberAddRequest add;
  expect_refused("adding a member without an id", call(client, "/raftkv.api.Admin/MemberAdd", add), invalid,
                 "the new member's id is missing");
  add.set_id(4);
  expect_refused("adding a member without a peer address", call(client, "/raftkv.api.Admin/MemberAdd", add),
                 invalid, "the new member's peer address is missing");
  add.set_id(2);
  add.set_peer_address(peer_[2]);
  expect_refused_as_one_of("adding a member that is one already",
                           call(client, "/raftkv.api.Admin/MemberAdd", add),
                           {invalid, grpc::StatusCode::FAILED_PRECONDITION});
  api::MemberPromoteRequest promote;
  expect_refused("promoting without an id", call(client, "/raftkv.api.Admin/MemberPromote", promote), invalid,
                 "the member id is missing");
  promote.set_id(2);
  expect_refused_as_one_of("promoting a voter", call(client, "/raftkv.api.Admin/MemberPromote", promote),
                           {invalid, grpc::StatusCode::FAILED_PRECONDITION});
  api::MemberRemoveRequest remove;
  expect_refused("removing without an id", call(client, "/raftkv.api.Admin/MemberRemove", remove), invalid,
                 "the member id is missing");
  remove.set_id(9);
  expect_refused_as_one_of("removing a member that does not exist",
                           call(client, "/raftkv.api.Admin/MemberRemove", remove),
                           {invalid, grpc::StatusCode::FAILED_PRECONDITION});
}

TEST_F(RefusalMessages, WithoutAQuorumEveryRequestThatNeedsOneSaysSo) {
  start_cluster(3);
  ASSERT_NE(leader({1, 2, 3}), 0u) << cluster_state();
  processes_[2].reset();  // killed
  processes_[3].reset();
  // Until member 1 notices, its answers are the deadline's; after, "no
  // leader": either must say so.
  const std::string client = client_[1];
  const std::vector<grpc::StatusCode> no_quorum = {grpc::StatusCode::UNAVAILABLE,
                                                   grpc::StatusCode::DEADLINE_EXCEEDED};
  expect_refused_as_one_of("a put", call(client, "/raftkv.api.KV/Put", put_request("k", "v"), seconds(3)),
                           no_quorum);
  api::RangeRequest range;
  range.set_key("k");
  expect_refused_as_one_of("a linearizable read", call(client, "/raftkv.api.KV/Range", range, seconds(3)),
                           no_quorum);
  api::TransferLeadershipRequest transfer;
  transfer.set_target(2);
  expect_refused_as_one_of(
      "a transfer", call(client, "/raftkv.api.Admin/TransferLeadership", transfer, seconds(3)), no_quorum);
  api::MemberAddRequest add;
  add.set_id(4);
  add.set_peer_address("127.0.0.1:1");
  expect_refused_as_one_of("adding a member", call(client, "/raftkv.api.Admin/MemberAdd", add, seconds(3)),
                           no_quorum);
  expect_refused_as_one_of(
      "a backup", call(client, "/raftkv.api.Admin/SnapshotSave", api::SnapshotSaveRequest(), seconds(3)),
      no_quorum);
}

TEST_F(RefusalMessages, AMemberAtItsLimitOfCallsRefusesTheNextWithAMessage) {
  start_cluster(3, "--max-concurrent-requests 1");
  ASSERT_NE(leader({1, 2, 3}), 0u) << cluster_state();
  processes_[2].reset();  // killed
  processes_[3].reset();
  // Once member 1 knows no leader, a write to it waits for one (for about
  // two election timeouts) before it is refused: long enough to overlap.
  ASSERT_TRUE(raft::testing::eventually([&] {
    const std::optional<api::StatusResponse> status = status_of(1);
    return status && status->leader() == 0;
  })) << cluster_state();
  const std::string client = client_[1];
  // Two writes at once to a member that serves one: whichever comes second
  // is refused for that.
  auto first = std::async(std::launch::async, [&] {
    return call(client, "/raftkv.api.KV/Put", put_request("a", "1"), seconds(3));
  });
  auto second = std::async(std::launch::async, [&] {
    return call(client, "/raftkv.api.KV/Put", put_request("b", "2"), seconds(3));
  });
  const grpc::Status answers[] = {first.get(), second.get()};
  const grpc::Status& refused =
      answers[0].error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ? answers[0] : answers[1];
  expect_refused("a write beyond --max-concurrent-requests", refused, grpc::StatusCode::RESOURCE_EXHAUSTED,
                 "requests in flight; retry with back-off");
}

TEST_F(RefusalMessages, ARemovedMemberRefusesEveryKvCallAndSaysWhere) {
  start_cluster(3);
  const std::uint64_t leading = leader({1, 2, 3});
  ASSERT_NE(leading, 0u) << cluster_state();
  const int removed = leading == 3 ? 2 : 3;
  api::MemberRemoveRequest remove;
  remove.set_id(static_cast<std::uint64_t>(removed));
  ASSERT_TRUE(call(client_[static_cast<int>(leading)], "/raftkv.api.Admin/MemberRemove", remove).ok());
  // The removed member learns of it when the removal commits and reaches it.
  const std::string client = client_[removed];
  grpc::Status put;
  raft::testing::eventually([&] {
    put = call(client, "/raftkv.api.KV/Put", put_request("k", "v"), seconds(2));
    return put.error_message().find("was removed") != std::string::npos;
  });
  expect_refused("a put to a removed member", put, grpc::StatusCode::UNAVAILABLE,
                 "was removed from the cluster and serves no more; use the other members");
  api::RangeRequest range;
  range.set_key("k");
  range.set_serializable(true);
  expect_refused("a serializable read from a removed member", call(client, "/raftkv.api.KV/Range", range),
                 grpc::StatusCode::UNAVAILABLE, "was removed from the cluster");
}

}  // namespace
}  // namespace raftkv
