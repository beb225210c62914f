// raft::Node, the driver, by hand: the order of the Ready contract (what
// may leave before the disk write, what only after), group commit, the
// clock as a parameter (reads and ticks on exact time), a failed write
// stopping the node, and the node's own invariants after every step.

#include "raft/node.h"

#include <gtest/gtest.h>

#include "raft/applier.h"
#include "raft/in_memory_snapshot_store.h"
#include "raft/in_memory_storage.h"
#include "tests/unit/core_test_support.h"

namespace raft {
namespace {

using namespace std::chrono_literals;
using testing::append_entries;
using testing::append_response;
using testing::entry;
using testing::test_config;

NodeTime at(std::chrono::milliseconds time) {
  return NodeTime(time);
}

class NodeTest : public ::testing::Test {
 protected:
  std::unique_ptr<Node> make(NodeId id, std::vector<NodeId> voters, RestoredState restored = {}) {
    NodeOptions options;
    options.core = test_config(id, std::move(voters));
    options.tick_interval = 10ms;
    options.read_timeout = 100ms;
    return std::make_unique<Node>(options, std::move(restored), storage_, snapshots_, at(0ms));
  }

  // Takes the output, checking the node's invariants first.
  NodeOutput take(Node& node) {
    EXPECT_EQ(node.check_invariants(), "");
    return node.take_output();
  }

  // Ticks a lone voter until it leads, writing what it asks at once.
  void elect_alone(Node& node) {
    for (int tick = 1; tick < 100 && node.core().role() != Role::kLeader; ++tick) {
      node.advance_time(at(std::chrono::milliseconds(10 * tick)));
      complete_writes(node);
    }
    ASSERT_EQ(node.core().role(), Role::kLeader);
  }

  // Does every write the node asks for, until it asks none.
  void complete_writes(Node& node) {
    while (true) {
      NodeOutput output = take(node);
      if (!output.write) return;
      node.write_done(DiskWriteResult{});
    }
  }

  InMemoryStorage storage_;
  InMemorySnapshotStore snapshots_;
};

TEST_F(NodeTest, AFollowerAcknowledgesEntriesOnlyOnceItsWriteIsDone) {
  // "Respond to RPCs only after updating stable storage" (Figure 2).
  auto node = make(2, {1, 2, 3});
  node->receive(append_entries(1, 2, 1, 0, 0, {entry(1, 1, "a"), entry(2, 1, "b")}, 0));
  NodeOutput before = take(*node);
  ASSERT_TRUE(before.write);
  EXPECT_EQ(before.write->entries.size(), 2u);
  EXPECT_TRUE(before.write->sync);
  for (const pb::Message& message : before.messages) {
    EXPECT_FALSE(message.has_append_entries_response()) << "an acknowledgement left before the write";
  }
  node->write_done(DiskWriteResult{});
  NodeOutput after = take(*node);
  ASSERT_EQ(after.messages.size(), 1u);
  ASSERT_TRUE(after.messages[0].has_append_entries_response());
  EXPECT_EQ(after.messages[0].append_entries_response().match_index(), 2u);
}

TEST_F(NodeTest, ALeadersEntriesLeaveBeforeItsOwnWrite) {
  // Dissertation §10.2.1: the leader may send entries before its own
  // write; it counts itself only once the write is done.
  auto node = make(1, {1, 2, 3});
  // Its election timeout passes; node 2 votes for it.
  for (int tick = 1; tick < 100 && node->core().role() == Role::kFollower; ++tick) {
    node->advance_time(at(std::chrono::milliseconds(10 * tick)));
  }
  ASSERT_EQ(node->core().role(), Role::kCandidate);
  complete_writes(*node);  // its vote for itself, durable before any RequestVote counts
  node->receive(testing::vote_response(2, 1, node->core().term(), true));
  complete_writes(*node);
  ASSERT_EQ(node->core().role(), Role::kLeader);
  // Node 2 acknowledges the new leader's no-op: it is replicated to at the
  // full window from now on.
  node->receive(append_response(2, 1, node->core().term(), node->core().log().last_index()));
  complete_writes(*node);

  bool answered = false;
  node->propose(
      "x", [&](Result<Applied>) { answered = true; }, NodeTime::max());
  NodeOutput output = take(*node);
  ASSERT_TRUE(output.write);
  bool sent = false;
  for (const pb::Message& message : output.messages) {
    if (message.has_append_entries() && message.append_entries().entries_size() > 0) sent = true;
  }
  EXPECT_TRUE(sent) << "the entry goes to the followers in the same output as the write";
  const Index index = output.write->entries.back().index();
  // Node 2's acknowledgement arrives while the leader's own write is in
  // flight: held until the write is done, so it never counts towards a
  // majority with a copy of the leader's that is not yet durable.
  node->receive(append_response(2, 1, node->core().term(), index));
  EXPECT_LT(node->core().log().committed(), index) << "committed before its own write was durable";
  node->write_done(DiskWriteResult{});
  EXPECT_EQ(node->core().log().committed(), index);
  EXPECT_FALSE(answered) << "answered before the state machine applied it";
  std::vector<ApplyWork> applied;
  for (NodeOutput next = take(*node);; next = take(*node)) {
    for (ApplyWork& work : next.apply) applied.push_back(std::move(work));
    if (!next.write) break;
    node->write_done(DiskWriteResult{});
  }
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].proposals.count(index), 1u) << "the proposal travels with its entry";
}

TEST_F(NodeTest, EverythingThatArrivesDuringAWriteGoesIntoTheNextOne) {
  auto node = make(1, {1});
  elect_alone(*node);
  node->propose(
      "first", [](Result<Applied>) {}, NodeTime::max());
  NodeOutput first = take(*node);
  ASSERT_TRUE(first.write);
  EXPECT_EQ(first.write->entries.size(), 1u);
  // 99 more arrive while "first" is being written: held, none written yet.
  for (int i = 0; i < 99; ++i)
    node->propose(
        "p" + std::to_string(i), [](Result<Applied>) {}, NodeTime::max());
  EXPECT_FALSE(take(*node).write) << "a second write while one is in flight";
  node->write_done(DiskWriteResult{});
  NodeOutput next = take(*node);
  ASSERT_TRUE(next.write);
  EXPECT_EQ(next.write->entries.size(), 99u) << "all of them in one write (group commit)";
}

TEST_F(NodeTest, AReadTheLeaderNeverConfirmsFailsAtItsDeadlineOnTheNodesClock) {
  // A follower forwards the read to its leader (§6.4), which never answers.
  auto node = make(2, {1, 2, 3});
  node->receive(append_entries(1, 2, 1, 0, 0, {}, 0));
  complete_writes(*node);
  ASSERT_EQ(node->core().leader(), 1u);
  std::optional<Result<Index>> answer;
  node->read_index([&](Result<Index> result) { answer = std::move(result); });
  node->advance_time(at(99ms));
  EXPECT_FALSE(answer) << "expired early";
  node->advance_time(at(100ms));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->error().code, ErrorCode::kTimeout);
}

TEST_F(NodeTest, AProposalWaitingPastItsDeadlineIsNeverProposed) {
  auto node = make(1, {1});
  elect_alone(*node);
  std::optional<Result<Applied>> answer;
  const Index last = node->core().log().last_index();
  node->advance_time(at(5000ms));
  node->propose(
      "late", [&](Result<Applied> result) { answer = std::move(result); }, at(4000ms));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->error().code, ErrorCode::kExpired);
  EXPECT_EQ(node->core().log().last_index(), last);
}

TEST_F(NodeTest, AFailedWriteStopsTheNodeAndFailsWhatIsPending) {
  auto node = make(1, {1});
  elect_alone(*node);
  std::optional<Result<Applied>> first, later;
  node->propose(
      "x", [&](Result<Applied> result) { first = std::move(result); }, NodeTime::max());
  ASSERT_TRUE(take(*node).write);
  node->write_done(DiskWriteResult{Error{ErrorCode::kStorage, "EIO"}, {}});
  EXPECT_TRUE(node->failed());
  EXPECT_EQ(node->stop_reason()->code, ErrorCode::kStorage);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->ok());
  node->propose(
      "y", [&](Result<Applied> result) { later = std::move(result); }, NodeTime::max());
  ASSERT_TRUE(later);
  EXPECT_EQ(later->error().code, ErrorCode::kStorage);
  EXPECT_FALSE(node->has_output()) << "a stopped node asks for nothing";
  EXPECT_EQ(node->check_invariants(), "");
}

TEST_F(NodeTest, ATickDueDuringAWriteIsTakenOnceWhenItIsDone) {
  auto node = make(2, {1, 2, 3});
  node->receive(append_entries(1, 2, 1, 0, 0, {entry(1, 1, "a")}, 0));
  ASSERT_TRUE(take(*node).write);
  // Time passes by a full election timeout and more during the write: the
  // core sees none of it until the write is done, then one tick.
  node->advance_time(at(5000ms));
  EXPECT_EQ(node->core().role(), Role::kFollower);
  node->write_done(DiskWriteResult{});
  EXPECT_EQ(node->core().role(), Role::kFollower) << "a stall fired the election timeout at once";
}

}  // namespace
}  // namespace raft
