// raft::Server with real threads and clock over the in-process seams:
// LocalTransport, InMemoryStorage, StaticDiscovery. Waits are on conditions
// with generous deadlines, never fixed sleeps.

#include "raft/server.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "raft/file_snapshot_store.h"
#include "raft/in_memory_snapshot_store.h"
#include "raft/in_memory_storage.h"
#include "raft/local_transport.h"
#include "raft/rocksdb_storage.h"
#include "raft/static_discovery.h"
#include "tests/unit/eventually.h"
#include "tests/unit/recording_state_machine.h"
#include "tests/unit/temporary_directory.h"

namespace raft {
namespace {

using namespace std::chrono_literals;

using testing::RecordingStateMachine;

using testing::eventually;

class ServerCluster {
 public:
  explicit ServerCluster(std::size_t size, std::function<void(ServerOptions&)> tweak = {})
      : network_(LocalNetwork::create()), tweak_(std::move(tweak)) {
    std::vector<Peer> peers;
    for (NodeId id = 1; id <= size; ++id) peers.push_back(Peer{id, "local:" + std::to_string(id)});
    discovery_ = std::make_shared<StaticDiscovery>(peers);
    for (NodeId id = 1; id <= size; ++id) {
      storages_[id] = std::make_shared<InMemoryStorage>();
      snapshot_stores_[id] = std::make_shared<InMemorySnapshotStore>();
      machines_[id] = std::make_shared<RecordingStateMachine>();
      start(id);
    }
  }
  ~ServerCluster() {
    for (auto& [id, server] : servers_) server.reset();
  }

  // A node that joins the running cluster: empty, waiting for the leader.
  void join(NodeId id) {
    wipe(id);
    start(id, /*join=*/true);
  }

  void start(NodeId id, bool join = false) {
    ServerOptions options;
    options.core.id = id;
    options.join_existing_cluster = join;
    options.tick_interval = 5ms;
    options.core.election_ticks = 20;
    options.core.heartbeat_ticks = 2;
    options.core.random_seed = id;
    options.check_invariants = true;
    if (tweak_) tweak_(options);
    servers_[id] = std::make_unique<Server>(options, storages_[id], snapshot_stores_[id],
                                            network_->endpoint(), discovery_, machines_[id]);
    ASSERT_TRUE(servers_[id]->start().ok());
  }
  void stop(NodeId id) { servers_.erase(id); }
  // Gives a stopped node an empty disk and state machine: a brand-new node.
  void wipe(NodeId id) {
    storages_[id] = std::make_shared<InMemoryStorage>();
    snapshot_stores_[id] = std::make_shared<InMemorySnapshotStore>();
    machines_[id] = std::make_shared<RecordingStateMachine>();
  }

  Server& server(NodeId id) { return *servers_.at(id); }
  RecordingStateMachine& machine(NodeId id) { return *machines_.at(id); }
  LocalNetwork& network() { return *network_; }
  bool running(NodeId id) const { return servers_.contains(id); }

  // The id of the running node that leads, once every running node (but
  // `excluded`, which may be cut off) agrees on it; kNoNode on timeout.
  NodeId wait_for_leader(NodeId excluded = kNoNode) {
    NodeId leader = kNoNode;
    const bool eventually_found = eventually([&] {
      leader = kNoNode;
      for (auto& [id, server] : servers_) {
        const ServerStatus status = server->status();
        if (status.role == Role::kLeader && id != excluded) leader = id;
      }
      if (leader == kNoNode) return false;
      for (auto& [id, server] : servers_) {
        if (id != excluded && server->status().leader != leader) return false;
      }
      return true;
    });
    return eventually_found ? leader : kNoNode;
  }

 private:
  std::shared_ptr<LocalNetwork> network_;
  std::shared_ptr<StaticDiscovery> discovery_;
  std::map<NodeId, std::shared_ptr<InMemoryStorage>> storages_;
  std::map<NodeId, std::shared_ptr<InMemorySnapshotStore>> snapshot_stores_;
  std::map<NodeId, std::shared_ptr<RecordingStateMachine>> machines_;
  std::map<NodeId, std::unique_ptr<Server>> servers_;
  std::function<void(ServerOptions&)> tweak_;
};

std::vector<Result<Applied>> propose_all(Server& server, const std::string& prefix, int count) {
  std::vector<std::future<Result<Applied>>> futures;
  futures.reserve(count);
  for (int i = 0; i < count; ++i) futures.push_back(server.propose(prefix + std::to_string(i)));
  std::vector<Result<Applied>> results;
  for (auto& future : futures) {
    EXPECT_EQ(future.wait_for(60s), std::future_status::ready);
    results.push_back(future.get());
  }
  return results;
}

// Nodes 1..size but `node`.
std::vector<NodeId> others_than(NodeId node, NodeId size) {
  std::vector<NodeId> others;
  for (NodeId id = 1; id <= size; ++id) {
    if (id != node) others.push_back(id);
  }
  return others;
}

std::size_t expect_all_ok(const std::vector<Result<Applied>>& results) {
  std::size_t ok = 0;
  for (const auto& result : results) {
    EXPECT_TRUE(result.ok()) << result.error().to_string();
    ok += result.ok() ? 1 : 0;
  }
  return ok;
}

TEST(Server, FiveNodesReplicateTenThousandProposalsSurviveTheLeaderStoppingAndConverge) {
  ServerCluster cluster(5);
  const NodeId first_leader = cluster.wait_for_leader();
  ASSERT_NE(first_leader, kNoNode);

  const auto results = propose_all(cluster.server(first_leader), "a", 10000);
  Index previous = 0;
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.error().to_string();
    EXPECT_GT(result.value().index, previous) << "proposals commit in the order they were made";
    previous = result.value().index;
  }
  EXPECT_EQ(results.front().value().result, "applied:a0");

  cluster.stop(first_leader);
  const NodeId second_leader = cluster.wait_for_leader();
  ASSERT_NE(second_leader, kNoNode);
  ASSERT_NE(second_leader, first_leader);
  for (const auto& result : propose_all(cluster.server(second_leader), "b", 1000)) {
    ASSERT_TRUE(result.ok()) << result.error().to_string();
  }

  // The old leader restarts from its storage and catches up.
  cluster.start(first_leader);
  ASSERT_TRUE(eventually(
      [&] {
        for (NodeId id = 1; id <= 5; ++id) {
          if (cluster.machine(id).commands().size() != 11000) return false;
        }
        return true;
      },
      60s));
  const std::vector<std::string> reference = cluster.machine(1).commands();
  for (NodeId id = 2; id <= 5; ++id) EXPECT_EQ(cluster.machine(id).commands(), reference) << "node " << id;
}

TEST(Server, FollowerRefusesProposalsAndNamesTheLeader) {
  ServerCluster cluster(3);
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, kNoNode);
  const NodeId follower = leader % 3 + 1;
  const Result<Applied> result = cluster.server(follower).propose("x").get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kNotLeader);
  EXPECT_EQ(result.error().leader_hint, leader);
}

TEST(Server, ReadIndexOnLeaderAndFollowerSeesEveryEarlierWrite) {
  ServerCluster cluster(3);
  const NodeId leader = cluster.wait_for_leader();
  const Result<Applied> written = cluster.server(leader).propose("w").get();
  ASSERT_TRUE(written.ok());
  for (NodeId id = 1; id <= 3; ++id) {
    const Result<Index> read = cluster.server(id).read_index().get();
    ASSERT_TRUE(read.ok()) << "node " << id << ": " << read.error().to_string();
    EXPECT_GE(read.value(), written.value().index);
    EXPECT_GE(cluster.server(id).status().applied_index, written.value().index);
    const auto commands = cluster.machine(id).commands();
    EXPECT_EQ(commands.back(), "w") << "node " << id << " serves the write after its read index";
  }
}

TEST(Server, IsolatedLeaderIsReplacedAndItsReadsFail) {
  ServerCluster cluster(3);
  const NodeId leader = cluster.wait_for_leader();
  cluster.network().isolate(leader);
  auto stale_read = cluster.server(leader).read_index();
  const NodeId next = cluster.wait_for_leader(leader);
  ASSERT_NE(next, kNoNode);
  ASSERT_NE(next, leader);
  ASSERT_EQ(stale_read.wait_for(30s), std::future_status::ready);
  const Result<Index> read = stale_read.get();
  ASSERT_FALSE(read.ok()) << "a partitioned leader must not serve a linearizable read";
  ASSERT_TRUE(cluster.server(next).propose("after").get().ok());
  cluster.network().heal();
  ASSERT_TRUE(eventually([&] {
    const auto commands = cluster.machine(leader).commands();
    return !commands.empty() && commands.back() == "after";
  }));
}

TEST(Server, LeadershipTransferMovesTheLeader) {
  ServerCluster cluster(3);
  const NodeId leader = cluster.wait_for_leader();
  const NodeId target = leader % 3 + 1;
  ASSERT_TRUE(cluster.server(leader).transfer_leadership(target).get().ok());
  ASSERT_TRUE(eventually([&] { return cluster.server(target).status().role == Role::kLeader; }));
}

TEST(Server, ATransferToANodeThatCannotTakeOverFailsSayingHowFarBehindItIs) {
  ServerCluster cluster(3);
  const NodeId leader = cluster.wait_for_leader();
  const NodeId target = leader % 3 + 1;
  cluster.network().isolate(target);
  const Status transferred = cluster.server(leader).transfer_leadership(target).get();
  ASSERT_FALSE(transferred.ok());
  EXPECT_EQ(transferred.error().code, ErrorCode::kTimeout);
  EXPECT_NE(transferred.error().message.find("did not take over"), std::string::npos)
      << transferred.error().message;
  EXPECT_EQ(cluster.server(leader).status().role, Role::kLeader) << "leadership stays where it was";
  const Status not_a_member = cluster.server(leader).transfer_leadership(9).get();
  ASSERT_FALSE(not_a_member.ok());
  EXPECT_EQ(not_a_member.error().code, ErrorCode::kInvalidArgument);
}

// ------------------------------------------------------------ membership --

TEST(ServerMembership, FoundingMembersWriteTheirConfigurationAsTheFirstEntry) {
  ServerCluster cluster(3);
  ASSERT_NE(cluster.wait_for_leader(), kNoNode);
  const ServerStatus status = cluster.server(1).status();
  ASSERT_NE(status.configuration, nullptr);
  EXPECT_EQ(Membership(*status.configuration), Membership::of_voters({1, 2, 3}));
  EXPECT_EQ(status.configuration_index, 1u);
  EXPECT_EQ(status.configuration->voters(1).address(), "local:2") << "the discovered addresses travel along";
}

TEST(ServerMembership, ANodeJoinsEmptyAsALearnerCatchesUpIsPromotedAndCounts) {
  ServerCluster cluster(3);
  NodeId leader = cluster.wait_for_leader();
  ASSERT_EQ(expect_all_ok(propose_all(cluster.server(leader), "before", 200)), 200u);
  cluster.join(4);
  EXPECT_EQ(cluster.server(4).status().role, Role::kFollower);
  const Result<Applied> added =
      cluster.server(leader).change_membership({MembershipChangeKind::kAddLearner, 4, "local:4", ""}).get();
  ASSERT_TRUE(added.ok()) << added.error().to_string();
  ASSERT_TRUE(eventually([&] { return cluster.machine(4).commands().size() >= 200; }));
  ASSERT_TRUE(eventually([&] {
    return cluster.server(leader).change_membership({MembershipChangeKind::kPromote, 4, "", ""}).get().ok();
  }));
  // Four voters now: with a founder stopped, the other three (node 4 among
  // them) still make a majority.
  cluster.stop(leader % 3 + 1);
  leader = cluster.wait_for_leader();
  ASSERT_NE(leader, kNoNode);
  EXPECT_EQ(expect_all_ok(propose_all(cluster.server(leader), "after", 10)), 10u);
  ASSERT_TRUE(eventually([&] { return cluster.machine(4).commands().back() == "after9"; }));
}

TEST(ServerMembership, AChangeThatCannotCommitStaysPendingAndRefusesTheNextUntilItDoes) {
  // Without check-quorum the leader keeps leading alone, so what is
  // observed is the change itself, not a step-down.
  ServerCluster cluster(3, [](ServerOptions& options) { options.core.check_quorum = false; });
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_EQ(expect_all_ok(propose_all(cluster.server(leader), "x", 1)), 1u);
  const std::vector<NodeId> followers = others_than(leader, 3);
  for (NodeId id : followers) cluster.stop(id);
  auto pending =
      cluster.server(leader).change_membership({MembershipChangeKind::kAddLearner, 4, "local:4", ""});
  EXPECT_EQ(pending.wait_for(300ms), std::future_status::timeout) << "no majority: it cannot commit";
  const Result<Applied> next =
      cluster.server(leader).change_membership({MembershipChangeKind::kAddLearner, 5, "local:5", ""}).get();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(next.error().message.find("one change at a time"), std::string::npos) << next.error().message;
  EXPECT_FALSE(cluster.server(leader).status().configuration_committed);
  for (NodeId id : followers) cluster.start(id);
  ASSERT_EQ(pending.wait_for(30s), std::future_status::ready);
  EXPECT_TRUE(pending.get().ok());
}

TEST(ServerMembership, ARemovedFollowerLearnsItAndStopsCampaigning) {
  ServerCluster cluster(
      3, [](ServerOptions& options) { options.core.pre_vote = options.core.check_quorum = true; });
  const NodeId leader = cluster.wait_for_leader();
  const NodeId removed = leader % 3 + 1;
  const Result<Applied> result =
      cluster.server(leader).change_membership({MembershipChangeKind::kRemove, removed, "", ""}).get();
  ASSERT_TRUE(result.ok()) << result.error().to_string();
  ASSERT_TRUE(eventually([&] { return cluster.server(removed).removed(); }));
  const Term term = cluster.server(leader).status().term;
  EXPECT_EQ(expect_all_ok(propose_all(cluster.server(leader), "x", 10)), 10u);
  EXPECT_EQ(cluster.server(leader).status().term, term) << "the removed node disturbed no one";
  const Result<Applied> again =
      cluster.server(leader)
          .change_membership({MembershipChangeKind::kAddLearner, removed, "local:9", ""})
          .get();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kFailedPrecondition);
}

// Back-pressure: a leader that cannot commit (its followers are gone) holds
// at most max_pending_proposals writes, or max_pending_bytes of them, and
// refuses the next at once with kOverloaded instead of queueing it; once the
// backlog drains it admits again.
TEST(ServerLimits, ALeaderHoldsAtMostItsPendingLimitAndRefusesTheRestAtOnce) {
  ServerCluster cluster(3, [](ServerOptions& options) {
    options.core.check_quorum = false;  // it stays leader, alone
    options.max_pending_proposals = 50;
    options.max_pending_bytes = 1000;
  });
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_EQ(expect_all_ok(propose_all(cluster.server(leader), "x", 1)), 1u);
  const std::vector<NodeId> followers = others_than(leader, 3);
  for (NodeId id : followers) cluster.stop(id);
  Server& server = cluster.server(leader);

  std::vector<std::future<Result<Applied>>> admitted;
  for (int i = 0; i < 50; ++i) admitted.push_back(server.propose("w" + std::to_string(i)));
  EXPECT_EQ(server.pending_proposals(), 50u);
  auto refused = server.propose("one too many");
  ASSERT_EQ(refused.wait_for(0s), std::future_status::ready) << "refused at once, not queued";
  const Result<Applied> result = refused.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kOverloaded);
  EXPECT_NE(result.error().message.find("50 writes"), std::string::npos) << result.error().message;
  EXPECT_EQ(server.pending_proposals(), 50u) << "the refusal took nothing";
  EXPECT_EQ(server.metrics().proposals_refused.load(), 1u);

  // The followers come back: the backlog commits, and there is room again.
  for (NodeId id : followers) cluster.start(id);
  for (auto& future : admitted) {
    ASSERT_EQ(future.wait_for(30s), std::future_status::ready);
    EXPECT_TRUE(future.get().ok());
  }
  EXPECT_TRUE(
      eventually([&] { return server.pending_proposals() == 0 && server.pending_proposal_bytes() == 0; }));
  // By bytes: a 600-byte write fits, a second does not.
  for (NodeId id : followers) cluster.stop(id);
  auto big = server.propose(std::string(600, 'b'));
  const Result<Applied> second = server.propose(std::string(600, 'c')).get();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kOverloaded);
  for (NodeId id : followers) cluster.start(id);
  ASSERT_EQ(big.wait_for(30s), std::future_status::ready);
  EXPECT_TRUE(big.get().ok());
}

// End-to-end deadlines: a write still queued when its caller's deadline
// passed is never proposed.
TEST(ServerLimits, AWriteWhoseDeadlinePassedBeforeItWasProposedIsNeverProposed) {
  ServerCluster cluster(3);
  const NodeId leader = cluster.wait_for_leader();
  Server& server = cluster.server(leader);
  const Index before = server.status().last_log_index;
  std::promise<Result<Applied>> answer;
  server.propose(
      "too late", [&](Result<Applied> result) { answer.set_value(std::move(result)); },
      std::chrono::steady_clock::now() - 1ms);
  const Result<Applied> result = answer.get_future().get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kExpired);
  EXPECT_EQ(expect_all_ok(propose_all(server, "after", 1)), 1u);
  EXPECT_EQ(server.status().last_log_index, before + 1) << "only the second write reached the log";
}

TEST(Server, StoppingFailsPendingRequestsInsteadOfLeavingThemHanging) {
  ServerCluster cluster(3);
  const NodeId leader = cluster.wait_for_leader();
  cluster.network().isolate(leader);
  auto pending = cluster.server(leader).propose("never");
  cluster.stop(leader);
  ASSERT_EQ(pending.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(pending.get().ok());
}

TEST(Server, KeepsCommittingOverALossyReorderingNetwork) {
  ServerCluster cluster(5);
  cluster.network().set_delay(0us, 2000us);
  cluster.network().set_drop_rate(0.05);
  int committed = 0;
  for (int attempt = 0; attempt < 200 && committed < 100; ++attempt) {
    const NodeId leader = cluster.wait_for_leader();
    if (leader == kNoNode) continue;
    auto future = cluster.server(leader).propose("p" + std::to_string(attempt));
    if (future.wait_for(10s) == std::future_status::ready && future.get().ok()) ++committed;
  }
  EXPECT_EQ(committed, 100);
  cluster.network().set_drop_rate(0);
  ASSERT_TRUE(eventually([&] {
    for (NodeId id = 2; id <= 5; ++id) {
      if (cluster.machine(id).commands() != cluster.machine(1).commands()) return false;
    }
    return true;
  }));
}

TEST(Server, ThreeNodesOnRocksDbRestartFromDiskAndCarryOn) {
  const testing::TemporaryDirectory root;
  auto network = LocalNetwork::create();
  auto discovery = std::make_shared<StaticDiscovery>(std::vector<Peer>{{1, "a"}, {2, "b"}, {3, "c"}});
  std::map<NodeId, std::shared_ptr<RecordingStateMachine>> machines;
  std::map<NodeId, std::unique_ptr<Server>> servers;
  auto start = [&](NodeId id) {
    auto storage = RocksDbStorage::open(root.sub(std::to_string(id)), StorageIdentity{99, id});
    ASSERT_TRUE(storage.ok()) << storage.error().to_string();
    ServerOptions options;
    options.core.id = id;
    options.core.election_ticks = 20;
    options.core.random_seed = id;
    options.tick_interval = 5ms;
    if (!machines.contains(id)) machines[id] = std::make_shared<RecordingStateMachine>();
    auto snapshots = FileSnapshotStore::open(root.sub(std::to_string(id)) + "/snapshots");
    ASSERT_TRUE(snapshots.ok()) << snapshots.error().to_string();
    servers[id] = std::make_unique<Server>(options, std::shared_ptr<Storage>(std::move(storage).value()),
                                           std::shared_ptr<SnapshotStore>(std::move(snapshots).value()),
                                           network->endpoint(), discovery, machines[id]);
    ASSERT_TRUE(servers[id]->start().ok());
  };
  auto leader = [&] {
    NodeId found = kNoNode;
    EXPECT_TRUE(eventually([&] {
      for (auto& [id, server] : servers) {
        if (server->status().role == Role::kLeader) found = id;
      }
      return found != kNoNode;
    }));
    return found;
  };
  for (NodeId id : {1, 2, 3}) start(id);
  for (const auto& result : propose_all(*servers.at(leader()), "before", 500)) ASSERT_TRUE(result.ok());

  servers.clear();  // every node stops; only the disks remain
  for (NodeId id : {1, 2, 3}) start(id);
  const NodeId next = leader();
  const ServerStatus status = servers.at(next)->status();
  EXPECT_GE(status.last_log_index, 501u) << "the log came back from RocksDB";
  EXPECT_GE(status.term, 2u) << "the term came back and moved on";
  for (const auto& result : propose_all(*servers.at(next), "after", 500)) ASSERT_TRUE(result.ok());
  ASSERT_TRUE(eventually([&] {
    for (NodeId id : {1, 2, 3}) {
      if (machines[id]->commands().size() != 1000) return false;
    }
    return true;
  }));
  EXPECT_EQ(machines[1]->commands(), machines[2]->commands());
  EXPECT_EQ(machines[1]->commands(), machines[3]->commands());
}

// Wraps a storage so a test can hold a save open and see what each save held.
class GatedStorage final : public Storage {
 public:
  Result<PersistentState> load() override { return inner_.load(); }
  Status save(const pb::HardState* hard_state, const std::vector<pb::Entry>& entries, bool sync) override {
    std::unique_lock lock(mutex_);
    if (hold_next_ && !entries.empty()) {
      hold_next_ = false;
      held_ = true;
      changed_.notify_all();
      changed_.wait(lock, [&] { return !held_; });
    }
    if (!entries.empty()) synced_batches_.push_back(sync ? entries.size() : 0);
    return inner_.save(hard_state, entries, sync);
  }
  Status save_snapshot(const pb::SnapshotMetadata& snapshot) override {
    return inner_.save_snapshot(snapshot);
  }
  Status compact(Index through) override { return inner_.compact(through); }
  Result<std::vector<pb::Entry>> read_entries(Index first, Index last) override {
    return inner_.read_entries(first, last);
  }
  void hold_next_save() {
    std::lock_guard lock(mutex_);
    hold_next_ = true;
  }
  void wait_until_held() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return held_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    held_ = false;
    changed_.notify_all();
  }
  std::vector<std::size_t> synced_batches() {
    std::lock_guard lock(mutex_);
    return synced_batches_;
  }

 private:
  InMemoryStorage inner_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool hold_next_ = false;
  bool held_ = false;
  std::vector<std::size_t> synced_batches_;  // entries per save with entries; 0 if unsynced
};

TEST(Server, ProposalsArrivingDuringASyncShareTheNextOne) {
  auto storage = std::make_shared<GatedStorage>();
  auto network = LocalNetwork::create();
  ServerOptions options;
  options.core.id = 1;
  options.tick_interval = 5ms;
  Server server(options, storage, std::make_shared<InMemorySnapshotStore>(), network->endpoint(),
                std::make_shared<StaticDiscovery>(std::vector<Peer>{{1, "a"}}),
                std::make_shared<RecordingStateMachine>());
  ASSERT_TRUE(server.start().ok());
  ASSERT_TRUE(eventually([&] { return server.status().role == Role::kLeader; }));
  ASSERT_TRUE(server.propose("warm-up").get().ok());

  storage->hold_next_save();
  auto first = server.propose("first");
  storage->wait_until_held();  // the loop is inside the sync of "first"
  std::vector<std::future<Result<Applied>>> queued;
  for (int i = 0; i < 999; ++i) queued.push_back(server.propose("queued" + std::to_string(i)));
  storage->release();

  ASSERT_TRUE(first.get().ok());
  for (auto& future : queued) ASSERT_TRUE(future.get().ok());
  const std::vector<std::size_t> batches = storage->synced_batches();
  ASSERT_GE(batches.size(), 2u);
  EXPECT_EQ(batches[batches.size() - 2], 1u) << "the held save carried only \"first\"";
  EXPECT_EQ(batches.back(), 999u) << "all 999 proposals made during that sync share one synced save";
}

// A storage whose disk can fail: from fail_saves() on, every write is
// refused as a broken disk refuses it.
class FailingStorage final : public Storage {
 public:
  Result<PersistentState> load() override { return inner_.load(); }
  Status save(const pb::HardState* hard_state, const std::vector<pb::Entry>& entries, bool sync) override {
    if (failing_)
      return Error{ErrorCode::kStorage, "write failed: input/output error (a test's broken disk)"};
    return inner_.save(hard_state, entries, sync);
  }
  Status save_snapshot(const pb::SnapshotMetadata& snapshot) override {
    if (failing_)
      return Error{ErrorCode::kStorage, "write failed: input/output error (a test's broken disk)"};
    return inner_.save_snapshot(snapshot);
  }
  Status compact(Index through) override { return inner_.compact(through); }
  Result<std::vector<pb::Entry>> read_entries(Index first, Index last) override {
    return inner_.read_entries(first, last);
  }
  void fail_saves() { failing_ = true; }

 private:
  InMemoryStorage inner_;
  std::atomic<bool> failing_{false};
};

// Counts what a node sends, so a test can see it fall silent.
class CountingTransport final : public Transport {
 public:
  explicit CountingTransport(std::shared_ptr<Transport> inner) : inner_(std::move(inner)) {}
  void start(NodeId self, Receiver receiver) override { inner_->start(self, std::move(receiver)); }
  void set_peers(const std::vector<Peer>& peers) override { inner_->set_peers(peers); }
  void send(pb::Message message) override {
    ++sent_;
    inner_->send(std::move(message));
  }
  void stop() override { inner_->stop(); }
  std::uint64_t sent() const { return sent_; }

 private:
  std::shared_ptr<Transport> inner_;
  std::atomic<std::uint64_t> sent_{0};
};

// Durability rule: a node whose storage refuses a write stops -- it cannot
// acknowledge what it could not persist, nor vote or lead on a log it does
// not have. A leader whose disk fails: on_fault fires once, saying so;
// from then on the node sends no message at all, every proposal made to it
// fails, its state machine applies nothing more; the two others elect a
// leader and go on.
TEST(Server, ANodeWhoseStorageFailsStopsAndAcknowledgesNothingAfter) {
  auto network = LocalNetwork::create();
  std::vector<Peer> peers = {{1, "a"}, {2, "b"}, {3, "c"}};
  auto discovery = std::make_shared<StaticDiscovery>(peers);
  std::map<NodeId, std::unique_ptr<Server>> servers;
  std::map<NodeId, std::shared_ptr<RecordingStateMachine>> machines;
  auto failing = std::make_shared<FailingStorage>();
  auto transport = std::make_shared<CountingTransport>(network->endpoint());
  std::mutex fault_mutex;
  std::vector<Error> faults;
  for (NodeId id = 1; id <= 3; ++id) {
    ServerOptions options;
    options.core.id = id;
    options.tick_interval = 5ms;
    options.core.election_ticks = 20;
    options.core.heartbeat_ticks = 2;
    options.core.random_seed = id;
    if (id == 3) {
      options.on_fault = [&](const Error& error) {
        std::lock_guard lock(fault_mutex);
        faults.push_back(error);
      };
    }
    machines[id] = std::make_shared<RecordingStateMachine>();
    servers[id] = std::make_unique<Server>(
        options, id == 3 ? std::shared_ptr<Storage>(failing) : std::make_shared<InMemoryStorage>(),
        std::make_shared<InMemorySnapshotStore>(),
        id == 3 ? std::shared_ptr<Transport>(transport) : network->endpoint(), discovery, machines[id]);
    ASSERT_TRUE(servers[id]->start().ok());
  }
  auto leader = [&] {
    for (auto& [id, server] : servers) {
      if (server->status().role == Role::kLeader) return id;
    }
    return kNoNode;
  };
  ASSERT_TRUE(eventually([&] { return leader() != kNoNode; }));
  if (leader() != 3) {
    ASSERT_TRUE(servers[leader()]->transfer_leadership(3).get().ok());
  }
  ASSERT_TRUE(eventually([&] { return leader() == 3; }));
  for (const auto& result : propose_all(*servers[3], "before-", 100)) ASSERT_TRUE(result.ok());

  failing->fail_saves();
  const auto after = propose_all(*servers[3], "after-", 20);
  for (const auto& result : after) {
    EXPECT_FALSE(result.ok()) << "a proposal made to a node whose disk failed was acknowledged";
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(fault_mutex);
    return !faults.empty();
  }));
  {
    std::lock_guard lock(fault_mutex);
    EXPECT_EQ(faults.size(), 1u);
    EXPECT_EQ(faults.front().code, ErrorCode::kStorage);
  }
  const std::uint64_t sent_at_fault = transport->sent();
  const std::size_t applied_at_fault = machines[3]->commands().size();
  // The others notice and elect a leader of their own; it commits.
  NodeId successor = kNoNode;
  ASSERT_TRUE(eventually([&] {
    for (NodeId id : {1, 2}) {
      if (servers[id]->status().role == Role::kLeader) successor = id;
    }
    return successor != kNoNode;
  }));
  ASSERT_TRUE(servers[successor]->propose("with a new leader").get().ok());
  for (const auto& result : propose_all(*servers[3], "later-", 5)) EXPECT_FALSE(result.ok());
  EXPECT_EQ(transport->sent(), sent_at_fault) << "the failed node sent messages after it stopped";
  EXPECT_EQ(machines[3]->commands().size(), applied_at_fault) << "the failed node applied more";
  EXPECT_FALSE(servers[3]->status().running);
  for (const std::string& command : machines[successor]->commands()) {
    EXPECT_FALSE(command.starts_with("later-")) << command;
  }
}

TEST(StaticDiscovery, ParsesPeerListsAndRejectsBadOnes) {
  const auto peers = StaticDiscovery::parse("1=127.0.0.1:7001,2=127.0.0.1:7002");
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers.value().size(), 2u);
  EXPECT_EQ(peers.value()[1], (Peer{2, "127.0.0.1:7002"}));
  for (const char* bad : {"", "1=", "=a:1", "x=a:1", "0=a:1", "1=a", "1=a:1,1=b:2"}) {
    EXPECT_FALSE(StaticDiscovery::parse(bad).ok()) << bad;
  }
}

namespace snapshots {

// Small thresholds so that a few thousand entries take many snapshots, and
// small chunks so that a transfer takes many of them.
void compact_often(ServerOptions& options) {
  options.snapshot_entries = 100;
  options.compaction_margin = 10;
  options.core.max_snapshot_chunk_bytes = 128;
}

// Stops a follower and wipes its disk, then commits `count` proposals
// without it, so that the leader compacts past everything the follower had.
// Returns the follower's id, or kNoNode if no leader was elected.
NodeId replace_a_follower_while_the_leader_compacts(ServerCluster& cluster, NodeId& leader, int count) {
  leader = cluster.wait_for_leader();
  if (leader == kNoNode) return kNoNode;
  const NodeId newcomer = leader % 3 + 1;
  cluster.stop(newcomer);
  cluster.wipe(newcomer);
  EXPECT_EQ(expect_all_ok(propose_all(cluster.server(leader), "a", count)), static_cast<std::size_t>(count));
  EXPECT_TRUE(eventually([&] { return cluster.server(leader).status().first_log_index > Index(count) / 2; }))
      << "the leader compacted its log";
  return newcomer;
}

TEST(ServerSnapshots, ABrandNewFollowerCatchesUpFromASnapshotInChunksThenFromTheLog) {
  ServerCluster cluster(3, compact_often);
  NodeId leader = kNoNode;
  const NodeId newcomer = replace_a_follower_while_the_leader_compacts(cluster, leader, 1000);
  ASSERT_NE(newcomer, kNoNode);
  EXPECT_GT(cluster.server(leader).status().snapshot_index, 500u);

  cluster.start(newcomer);
  ASSERT_TRUE(
      eventually([&] { return cluster.machine(newcomer).commands() == cluster.machine(leader).commands(); }));
  EXPECT_GE(cluster.machine(newcomer).restores(), 1) << "it was sent a snapshot, not the log";
  // ... and continues from the log.
  EXPECT_EQ(expect_all_ok(propose_all(cluster.server(leader), "b", 50)), 50u);
  ASSERT_TRUE(
      eventually([&] { return cluster.machine(newcomer).commands() == cluster.machine(leader).commands(); }));
  EXPECT_EQ(cluster.machine(newcomer).commands().back(), "b49");
}

TEST(ServerLogCache, AFollowerBehindThePayloadsInMemoryCatchesUpFromTheLeadersDisk) {
  // No payloads of applied entries in memory at all: every entry the
  // returning follower needs is read back from the leader's storage.
  // With one of three stopped, a leader that misses an election timeout of
  // acknowledgements on a loaded machine steps down and fails the 2,000
  // proposals: give it longer than the default 100 ms.
  ServerCluster cluster(3, [](ServerOptions& options) {
    options.core.log_payload_cache_bytes = 0;
    options.core.election_ticks = 60;
  });
  const NodeId leader = cluster.wait_for_leader();
  ASSERT_NE(leader, kNoNode);
  const NodeId follower = leader == 1 ? 2 : 1;
  cluster.stop(follower);
  EXPECT_EQ(expect_all_ok(propose_all(cluster.server(leader), "a", 2000)), 2000u);
  // The status is published after the raft loop's turn, which may come just
  // after the apply thread answered the last proposal.
  EXPECT_TRUE(eventually([&] { return cluster.server(leader).status().commit_index > 2000u; }));

  cluster.start(follower);
  ASSERT_TRUE(eventually(
      [&] { return cluster.machine(follower).commands() == cluster.machine(leader).commands(); }, 60s));
  EXPECT_EQ(cluster.machine(follower).restores(), 0) << "from the log, not a snapshot";
  EXPECT_EQ(cluster.machine(follower).commands().back(), "a1999");
}

TEST(ServerSnapshots, ATransferResumesAfterLostChunks) {
  ServerCluster cluster(3, compact_often);
  NodeId leader = kNoNode;
  const NodeId newcomer = replace_a_follower_while_the_leader_compacts(cluster, leader, 2000);
  ASSERT_NE(newcomer, kNoNode);
  ASSERT_TRUE(eventually([&] { return cluster.server(leader).status().snapshot_index > 1500; }));
  // The snapshot is hundreds of 128-byte chunks; with one message in five
  // lost, a transfer that started over after a loss would never finish.
  cluster.network().set_drop_rate(0.2);
  cluster.start(newcomer);
  ASSERT_TRUE(eventually([&] { return cluster.machine(newcomer).commands().size() >= 2000; }, 60s));
  cluster.network().set_drop_rate(0);
  ASSERT_TRUE(
      eventually([&] { return cluster.machine(newcomer).commands() == cluster.machine(leader).commands(); }));
}

TEST(ServerSnapshots, ANodeOnRocksDbRestartsFromItsSnapshotFileAndTheLogAfterIt) {
  const testing::TemporaryDirectory root;
  auto network = LocalNetwork::create();
  auto discovery = std::make_shared<StaticDiscovery>(std::vector<Peer>{{1, "a"}});
  auto run = [&](const std::shared_ptr<RecordingStateMachine>& machine) {
    auto storage = RocksDbStorage::open(root.sub("raft"), StorageIdentity{5, 1});
    EXPECT_TRUE(storage.ok());
    auto store = FileSnapshotStore::open(root.sub("snapshots"));
    EXPECT_TRUE(store.ok());
    ServerOptions options;
    options.core.id = 1;
    options.tick_interval = 5ms;
    compact_often(options);
    return std::make_unique<Server>(options, std::shared_ptr<Storage>(std::move(storage).value()),
                                    std::shared_ptr<SnapshotStore>(std::move(store).value()),
                                    network->endpoint(), discovery, machine);
  };
  auto first_machine = std::make_shared<RecordingStateMachine>();
  auto server = run(first_machine);
  ASSERT_TRUE(server->start().ok());
  ASSERT_TRUE(eventually([&] { return server->status().role == Role::kLeader; }));
  EXPECT_EQ(expect_all_ok(propose_all(*server, "c", 1050)), 1050u);
  // A snapshot every 100 entries: the last one is within 100 of index 1051.
  ASSERT_TRUE(eventually([&] { return server->status().snapshot_index > 950; }));
  server.reset();

  // A state machine that lost everything (or one that crashed before it
  // restored an installed snapshot) starts from the snapshot file, then
  // replays the log after it.
  auto second_machine = std::make_shared<RecordingStateMachine>();
  server = run(second_machine);
  ASSERT_TRUE(server->start().ok());
  EXPECT_EQ(second_machine->restores(), 1);
  std::size_t snapshot_files = 0;
  for (const auto& file : std::filesystem::directory_iterator(root.sub("snapshots"))) {
    snapshot_files += file.path().extension() == ".snap" ? 1 : 0;
  }
  EXPECT_EQ(snapshot_files, 1u) << "only the recorded snapshot is kept";
  ASSERT_TRUE(eventually([&] { return second_machine->commands().size() == 1050; }));
  EXPECT_EQ(second_machine->commands(), first_machine->commands());
}

TEST(ServerSnapshots, ADamagedSnapshotFileStopsTheStartWithAMessageNamingIt) {
  const testing::TemporaryDirectory root;
  auto network = LocalNetwork::create();
  auto discovery = std::make_shared<StaticDiscovery>(std::vector<Peer>{{1, "a"}});
  auto make = [&](const std::shared_ptr<RecordingStateMachine>& machine) {
    ServerOptions options;
    options.core.id = 1;
    options.tick_interval = 5ms;
    compact_often(options);
    return std::make_unique<Server>(
        options,
        std::shared_ptr<Storage>(RocksDbStorage::open(root.sub("raft"), StorageIdentity{5, 1}).value()),
        std::shared_ptr<SnapshotStore>(FileSnapshotStore::open(root.sub("snapshots")).value()),
        network->endpoint(), discovery, machine);
  };
  auto server = make(std::make_shared<RecordingStateMachine>());
  ASSERT_TRUE(server->start().ok());
  ASSERT_TRUE(eventually([&] { return server->status().role == Role::kLeader; }));
  expect_all_ok(propose_all(*server, "d", 300));
  ASSERT_TRUE(eventually([&] { return server->status().snapshot_index >= 200; }));
  server.reset();
  for (const auto& file : std::filesystem::directory_iterator(root.sub("snapshots"))) {
    std::fstream bytes(file.path(), std::ios::in | std::ios::out | std::ios::binary);
    bytes.seekp(40);
    bytes.put('!');
  }
  server = make(std::make_shared<RecordingStateMachine>());
  const Status started = server->start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().message.find("is damaged"), std::string::npos) << started.error().message;
}

}  // namespace snapshots

}  // namespace
}  // namespace raft
