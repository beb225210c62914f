// What an operator does to a running cluster, on real raftkvd processes, as
// docs/operations.md tells it: hand leadership to a member restarted a
// moment ago, add a member, remove the leader, compare the replicas.
// Whether an election was a hand-over is read from the members' logs, where
// each new term says why it began. Election timeouts are long here (1-2 s),
// so that a machine too busy to send heartbeats in time does not start an
// ordinary election beside the one a test asks for.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

#include "tests/integration/process_cluster.h"

namespace raftkv {
namespace {

using namespace std::chrono_literals;

constexpr char kLongElectionTimeouts[] = "--election-ticks 50";

class OperatorActions : public ProcessCluster {
 protected:
  api::StatusResponse status(int id, bool with_digest = false) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    api::StatusRequest request;
    request.set_with_state_digest(with_digest);
    api::StatusResponse response;
    const grpc::Status answered = admin(id)->Status(&context, request, &response);
    EXPECT_TRUE(answered.ok()) << "member " << id << ": " << answered.error_message();
    return response;
  }

  grpc::Status transfer(int via, int target) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    api::TransferLeadershipRequest request;
    request.set_target(static_cast<std::uint64_t>(target));
    api::TransferLeadershipResponse response;
    return admin(via)->TransferLeadership(&context, request, &response);
  }

  // Every running member has applied everything the leader has committed.
  bool applied_everywhere(const std::set<int>& running, int leader_id) {
    const std::uint64_t committed = status(leader_id).commit_index();
    for (int id : running) {
      if (status(id).applied_index() < committed) return false;
    }
    return true;
  }

  // Whether member `id`'s log says it campaigned in `term` because `from`
  // handed leadership to it, and won.
  bool handed_over(int id, std::uint64_t term, int from) {
    const std::string text = raft::testing::read_file(log(id));
    const std::string reason = "campaigning in term " + std::to_string(term) + " (term began: leader " +
                               std::to_string(from) + " handed leadership to this node)";
    return text.find(reason) != std::string::npos &&
           text.find("elected leader for term " + std::to_string(term)) != std::string::npos;
  }
};

TEST_F(OperatorActions, ATransferToAMemberRestartedAMomentAgoIsOneHandOver) {
  start_cluster(5, kLongElectionTimeouts);
  const std::set<int> all = {1, 2, 3, 4, 5};
  const int first = static_cast<int>(leader(all));
  ASSERT_NE(first, 0) << cluster_state();
  ASSERT_TRUE(put(first, "before", "v").ok());
  const int target = first % 5 + 1;
  processes_[target]->kill_now();
  ASSERT_TRUE(put(first, "while-down", "v").ok());
  start(target);
  // Caught up, as `kvctl endpoint status` would show it: the target has
  // applied all the leader committed, and the leader knows its log matches.
  ASSERT_TRUE(raft::testing::eventually(
      [&] {
        const api::StatusResponse leading = status(first);
        for (const api::PeerProgress& peer : leading.peers()) {
          if (static_cast<int>(peer.id()) == target && peer.match_index() == leading.last_log_index())
            return applied_everywhere(all, first);
        }
        return false;
      },
      20s))
      << cluster_state();
  const std::uint64_t term = status(first).header().term();
  const grpc::Status transferred = transfer(first, target);
  ASSERT_TRUE(transferred.ok()) << transferred.error_message() << "\n" << cluster_state();
  EXPECT_EQ(leader(all), static_cast<std::uint64_t>(target));
  EXPECT_EQ(status(target).header().term(), term + 1) << "one election, no extra one";
  EXPECT_TRUE(handed_over(target, term + 1, first)) << cluster_state();
}

TEST_F(OperatorActions, AMemberAddedWithPeersOnlyForwardsWritesOnceItFollows) {
  start_cluster(3, kLongElectionTimeouts);
  const std::set<int> founders = {1, 2, 3};
  const int first = static_cast<int>(leader(founders));
  ASSERT_NE(first, 0) << cluster_state();
  ASSERT_TRUE(put(first, "before", "v").ok());
  // As docs/operations.md adds a member: the founders' peer addresses, its
  // own addresses, no --clients.
  peer_[4] = "127.0.0.1:" + std::to_string(raft::testing::free_port());
  client_[4] = "127.0.0.1:" + std::to_string(raft::testing::free_port());
  std::string founder_peers;
  for (int id = 1; id <= 3; ++id) founder_peers += (id > 1 ? "," : "") + std::to_string(id) + "=" + peer_[id];
  arguments_[4] = "--id 4 --cluster-id 9 --data-dir " + scratch_.sub("node-4") +
                  " --initial-cluster-state existing --listen-peer " + peer_[4] + " --listen-client " +
                  client_[4] + " --peers " + founder_peers + " --tick-ms 20 " + kLongElectionTimeouts;
  start(4);
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    api::MemberAddRequest request;
    request.set_id(4);
    request.set_peer_address(peer_[4]);
    request.set_client_address(client_[4]);
    api::MemberChangeResponse response;
    const grpc::Status added = admin(first)->MemberAdd(&context, request, &response);
    ASSERT_TRUE(added.ok()) << added.error_message() << "\n" << cluster_state();
  }
  const std::set<int> all = {1, 2, 3, 4};
  const int current = static_cast<int>(leader(all));
  ASSERT_NE(current, 0) << cluster_state();
  ASSERT_NE(current, 4);
  const grpc::Status written = put(4, "through-the-new-member", "v");
  ASSERT_TRUE(written.ok()) << written.error_message() << "\n" << cluster_state();
  EXPECT_EQ(get(current, "through-the-new-member"), "v");
  // And it lists the founders where they serve clients.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  api::MemberListResponse members;
  ASSERT_TRUE(admin(4)->MemberList(&context, api::MemberListRequest(), &members).ok());
  ASSERT_EQ(members.members_size(), 4);
  for (const api::Member& member : members.members())
    EXPECT_EQ(member.client_address(), client_[static_cast<int>(member.id())]) << "member " << member.id();
}

TEST_F(OperatorActions, RemovingTheLeaderHandsOverToAMemberHoldingItsLog) {
  start_cluster(5, kLongElectionTimeouts);
  std::set<int> members = {1, 2, 3, 4, 5};
  // Twice, five members to three: each removed leader hands over (the race
  // it once lost -- its TimeoutNow arriving after the removal was applied --
  // gets two chances to show).
  for (int round = 0; round < 2; ++round) {
    const int removed = static_cast<int>(leader(members));
    ASSERT_NE(removed, 0) << cluster_state();
    ASSERT_TRUE(put(removed, "before-" + std::to_string(round), "v").ok());
    const std::uint64_t term = status(removed).header().term();
    {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + 10s);
      api::MemberRemoveRequest request;
      request.set_id(static_cast<std::uint64_t>(removed));
      api::MemberChangeResponse response;
      const grpc::Status answered = admin(removed)->MemberRemove(&context, request, &response);
      ASSERT_TRUE(answered.ok()) << answered.error_message() << "\n" << cluster_state();
    }
    members.erase(removed);
    const int next = static_cast<int>(leader(members));
    ASSERT_NE(next, 0) << cluster_state();
    EXPECT_EQ(status(next).header().term(), term + 1) << "round " << round << ": one election, no extra one";
    EXPECT_TRUE(handed_over(next, term + 1, removed)) << "round " << round << "\n" << cluster_state();
    EXPECT_TRUE(put(next, "after-" + std::to_string(round), "v").ok());
  }
}

TEST_F(OperatorActions, HashAndStatusAgreeOnTheAppliedIndexAfterANoOpEntry) {
  start_cluster(3, kLongElectionTimeouts);
  const std::set<int> all = {1, 2, 3};
  const int first = static_cast<int>(leader(all));
  ASSERT_NE(first, 0) << cluster_state();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(put(first, "key-" + std::to_string(i), "v").ok());
  // A new leader's first entry is a no-op: Raft applies it, the key-value
  // store has nothing to do for it.
  const int target = first % 3 + 1;
  ASSERT_TRUE(raft::testing::eventually([&] { return transfer(first, target).ok(); }, 10s))
      << cluster_state();
  ASSERT_TRUE(raft::testing::eventually([&] { return applied_everywhere(all, target); }, 10s));
  std::uint64_t digest = 0;
  for (int id : all) {
    const api::StatusResponse member = status(id, /*with_digest=*/true);
    EXPECT_EQ(member.state().applied_index(), member.applied_index()) << "member " << id;
    EXPECT_EQ(member.state().keys(), 20u);
    if (digest == 0) digest = member.state().digest();
    EXPECT_EQ(member.state().digest(), digest) << "member " << id;
  }
}

}  // namespace
}  // namespace raftkv
