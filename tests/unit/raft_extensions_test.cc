// Tests of the core's extensions beyond Figure 2, each quoting the passage of
// Ongaro's dissertation ("Consensus: Bridging Theory and Practice", 2014) it
// checks: pre-vote, check-quorum, ReadIndex, leadership transfer, and the
// replication pipeline with batching.

#include <gtest/gtest.h>

#include "tests/unit/core_test_support.h"

namespace raft {
namespace {

using testing::append_response;
using testing::CoreNetwork;
using testing::drain;
using testing::drain_messages;
using testing::Drained;
using testing::request_vote;

void enable_pre_vote_and_check_quorum(CoreConfig& config) {
  config.pre_vote = true;
  config.check_quorum = true;
}

// Node 1 leading {1, 2}, with follower 2's acknowledgement of the no-op
// moving it to replicate mode.
std::unique_ptr<Core> leader_replicating_to_2(CoreConfig config) {
  auto leader = testing::elected_leader(std::move(config));
  leader->step(append_response(2, 1, leader->term(), leader->log().last_index()));
  drain_messages(*leader);
  return leader;
}

// ---------------------------------------------------------------- pre-vote --

// "In the Pre-Vote algorithm, a candidate only increments its term if it
// first learns from a majority of the cluster that they would be willing to
// grant the candidate their votes (if the candidate's log is sufficiently
// up-to-date, and the voters have not received heartbeats from a valid leader
// for at least a baseline election timeout)." -- dissertation §9.6
TEST(PreVote, PartitionedNodeDoesNotRaiseItsTermNorDisruptTheLeaderWhenItReturns) {
  CoreNetwork network(3, enable_pre_vote_and_check_quorum);
  network.elect(1);
  ASSERT_EQ(network.node(1).role(), Role::kLeader);
  const Term term = network.node(1).term();

  network.isolate(3);
  for (int i = 0; i < 100; ++i) {
    network.node(3).tick();
    network.settle();
  }
  EXPECT_EQ(network.node(3).term(), term) << "pre-vote failed, so the term stayed put";
  EXPECT_EQ(network.node(3).role(), Role::kPreCandidate);

  network.heal();
  network.tick_all(5);
  EXPECT_EQ(network.node(1).role(), Role::kLeader);
  EXPECT_EQ(network.node(1).term(), term);
  EXPECT_EQ(network.node(3).role(), Role::kFollower);
  EXPECT_EQ(network.node(3).leader(), 1u);
}

TEST(PreVote, PreCandidateBecomesCandidateAfterAMajorityOfPreVotesAndWins) {
  CoreNetwork network(3, enable_pre_vote_and_check_quorum);
  network.elect(2);
  EXPECT_EQ(network.node(2).role(), Role::kLeader);
  EXPECT_EQ(network.node(2).term(), 1u) << "pre-vote itself does not spend a term";
}

TEST(PreVote, NodeThatHeardFromALeaderWithinAnElectionTimeoutRefusesPreVotes) {
  CoreConfig config = testing::test_config(1, {1, 2, 3});
  config.pre_vote = true;  // without check-quorum: the rule belongs to pre-vote itself
  Core core(config);
  core.step(testing::append_entries(2, 1, 1, 0, 0, {}, 0));
  drain_messages(core);
  core.step(request_vote(3, 1, 2, 0, 0, /*pre_vote=*/true));
  std::vector<pb::Message> replies = drain_messages(core);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_FALSE(replies[0].request_vote_response().vote_granted());
  for (int i = 0; i < config.election_ticks; ++i) core.tick();  // the leader went quiet
  core.step(request_vote(3, 1, 2, 0, 0, /*pre_vote=*/true));
  replies = drain_messages(core);
  ASSERT_FALSE(replies.empty());
  EXPECT_TRUE(replies.back().request_vote_response().vote_granted());
}

TEST(PreVote, GrantingAPreVoteChangesNeitherTermNorVote) {
  CoreConfig config = testing::test_config(1, {1, 2, 3});
  config.pre_vote = true;
  Core core(config);
  core.step(request_vote(2, 1, 5, 0, 0, /*pre_vote=*/true));
  const std::vector<pb::Message> replies = drain_messages(core);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].request_vote_response().vote_granted());
  EXPECT_EQ(replies[0].term(), 5u) << "a granted pre-vote echoes the proposed term";
  EXPECT_EQ(core.term(), 0u);
  EXPECT_EQ(core.voted_for(), kNoNode);
}

// ------------------------------------------------------------ check-quorum --

// "a leader steps down if an election timeout elapses without a successful
// round of heartbeats to a majority of its cluster; this allows clients to
// retry their requests with another server." -- dissertation §6.2
TEST(CheckQuorum, LeaderCutOffFromAMajorityStepsDownWithinAnElectionTimeout) {
  CoreNetwork network(5, enable_pre_vote_and_check_quorum);
  network.elect(1);
  ASSERT_EQ(network.node(1).role(), Role::kLeader);
  network.cut(1, 2);
  network.cut(1, 3);
  network.cut(1, 4);
  const int election_ticks = network.node(1).config().election_ticks;
  for (int i = 0; i < 2 * election_ticks && network.node(1).role() == Role::kLeader; ++i) {
    network.node(1).tick();
    network.settle();
  }
  EXPECT_EQ(network.node(1).role(), Role::kFollower);
}

TEST(CheckQuorum, LeaderHearingFromAMajorityStaysLeader) {
  CoreNetwork network(5, enable_pre_vote_and_check_quorum);
  network.elect(1);
  network.isolate(5);
  network.isolate(4);
  network.tick_all(50);
  // Nodes 4 and 5 cannot reach anyone; 1, 2 and 3 still form a majority.
  EXPECT_EQ(network.node(1).role(), Role::kLeader);
}

// "if a server receives a RequestVote request within the minimum election
// timeout of hearing from a current leader, it does not update its term or
// grant its vote." -- dissertation §4.2.3
TEST(CheckQuorum, FollowerThatHeardFromLeaderRecentlyIgnoresVoteRequests) {
  CoreNetwork network(3, enable_pre_vote_and_check_quorum);
  network.elect(1);
  const Term term = network.node(2).term();
  network.node(2).step(request_vote(3, 2, term + 5, 100, term + 4));
  EXPECT_EQ(network.node(2).term(), term);
  EXPECT_EQ(network.node(2).voted_for(), 1u);
  EXPECT_TRUE(drain_messages(network.node(2)).empty());
}

// --------------------------------------------------------------- ReadIndex --

// "If the leader has not yet marked an entry from its current term
// committed, it waits until it has done so." -- dissertation §6.4, step 1.
// "The leader needs to make sure it hasn't been superseded by a newer leader
// ... it sends a new round of heartbeats and waits for their
// acknowledgments from a majority of the cluster." -- step 3.
TEST(ReadIndex, LeaderServesAReadOnlyAfterCommittingInItsTermAndConfirmingLeadership) {
  auto owned = testing::elected_leader(testing::test_config(1, {1, 2, 3}));
  Core& leader = *owned;  // its no-op is out, not yet acknowledged
  leader.read_index(7);
  EXPECT_TRUE(drain(leader).ready.read_states.empty()) << "no entry of term 1 committed yet";

  leader.step(append_response(2, 1, 1, 1));  // commits the no-op and starts the read round
  Ready ready = drain(leader).ready;
  EXPECT_TRUE(ready.read_states.empty()) << "leadership not confirmed yet";
  std::uint64_t round = 0;
  for (const pb::Message& message : ready.messages)
    round = std::max(round, message.append_entries().read_round());
  ASSERT_GT(round, 0u) << "a heartbeat round carries the read";

  leader.step(append_response(3, 1, 1, 1, round));
  ready = drain(leader).ready;
  ASSERT_EQ(ready.read_states.size(), 1u);
  EXPECT_EQ(ready.read_states[0].request_id, 7u);
  EXPECT_EQ(ready.read_states[0].index, 1u);
  EXPECT_TRUE(ready.read_states[0].ok);
}

TEST(ReadIndex, ManyReadsShareOneHeartbeatRound) {
  CoreNetwork network(3);
  network.elect(1);
  const std::size_t before = network.delivered();
  for (std::uint64_t id = 1; id <= 100; ++id) network.node(1).read_index(id);
  network.settle();
  ASSERT_EQ(network.read_states(1).size(), 100u);
  for (const ReadState& read : network.read_states(1)) EXPECT_TRUE(read.ok);
  // One heartbeat and one response per follower.
  EXPECT_EQ(network.delivered() - before, 4u);
}

TEST(ReadIndex, PartitionedLeaderCannotConfirmAndFailsReadsWhenItStepsDown) {
  CoreNetwork network(3, enable_pre_vote_and_check_quorum);
  network.elect(1);
  network.isolate(1);
  network.node(1).read_index(9);
  for (int i = 0; i < 30 && network.node(1).role() == Role::kLeader; ++i) {
    network.node(1).tick();
    network.settle();
  }
  ASSERT_EQ(network.read_states(1).size(), 1u);
  EXPECT_FALSE(network.read_states(1)[0].ok);
}

// "a follower could also serve read-only queries ... the follower would send
// a request to the leader asking for the current readIndex." -- §6.4
TEST(ReadIndex, FollowerGetsTheReadIndexFromTheLeader) {
  CoreNetwork network(3);
  network.elect(1);
  ASSERT_TRUE(network.node(1).propose("a").ok());
  network.settle();
  network.node(2).read_index(5);
  network.settle();
  ASSERT_EQ(network.read_states(2).size(), 1u);
  EXPECT_TRUE(network.read_states(2)[0].ok);
  EXPECT_EQ(network.read_states(2)[0].index, 2u);
}

// Node 2 following leader 1 in term `term`, its outputs drained.
std::unique_ptr<Core> follower_of_1(Term term = 1) {
  auto follower = std::make_unique<Core>(testing::test_config(2, {1, 2, 3}));
  follower->step(testing::append_entries(1, 2, term, 0, 0, {}, 0));
  drain(*follower);
  return follower;
}

std::vector<pb::Message> read_requests(const Drained& drained) {
  std::vector<pb::Message> requests;
  for (const pb::Message& message : drained.ready.messages_after_persist) {
    if (message.has_read_index_request()) requests.push_back(message);
  }
  return requests;
}

// An answer to follower 2's forwarded read, in term 1.
pb::Message read_answer(NodeId from, std::uint64_t request_id, Index index, bool ok) {
  return testing::read_index_response(from, 2, 1, request_id, index, ok);
}

TEST(ReadIndex, AFollowerForwardsOneRequestAtATimeAndItsAnswerServesTheReadsThatCameBefore) {
  auto follower = follower_of_1();
  follower->read_index(11);
  follower->read_index(12);
  std::vector<pb::Message> sent = read_requests(drain(*follower));
  ASSERT_EQ(sent.size(), 1u) << "one request for both";
  EXPECT_EQ(sent[0].to(), 1u);
  EXPECT_EQ(sent[0].read_index_request().request_id(), 11u);
  follower->read_index(13);  // began after the request left: not served by its answer
  EXPECT_TRUE(read_requests(drain(*follower)).empty()) << "one request in flight at most";

  follower->step(read_answer(1, 11, 40, true));
  Drained drained = drain(*follower);
  ASSERT_EQ(drained.ready.read_states.size(), 2u);
  EXPECT_EQ(drained.ready.read_states[0].request_id, 11u);
  EXPECT_EQ(drained.ready.read_states[1].request_id, 12u);
  EXPECT_EQ(drained.ready.read_states[1].index, 40u);
  EXPECT_TRUE(drained.ready.read_states[1].ok);
  sent = read_requests(drained);
  ASSERT_EQ(sent.size(), 1u) << "the read that waited goes next";
  EXPECT_EQ(sent[0].read_index_request().request_id(), 13u);

  follower->step(read_answer(1, 11, 41, true));  // a duplicate of the first answer
  EXPECT_TRUE(drain(*follower).ready.read_states.empty());
  follower->step(read_answer(3, 13, 41, true));  // from a node that was not asked
  EXPECT_TRUE(drain(*follower).ready.read_states.empty());
  follower->step(read_answer(1, 13, 0, false));
  drained = drain(*follower);
  ASSERT_EQ(drained.ready.read_states.size(), 1u);
  EXPECT_FALSE(drained.ready.read_states[0].ok);
}

TEST(ReadIndex, AForwardedRequestWithoutAnAnswerFailsAfterAnElectionTimeoutAndTheNextGoesOut) {
  auto follower = follower_of_1();
  follower->read_index(21);
  ASSERT_EQ(read_requests(drain(*follower)).size(), 1u);
  follower->read_index(22);
  const int election_ticks = follower->config().election_ticks;
  std::vector<ReadState> done;
  std::vector<pb::Message> sent;
  for (int i = 0; i < election_ticks; ++i) {
    follower->step(testing::append_entries(1, 2, 1, 0, 0, {}, 0));  // the leader is alive
    follower->tick();
    Drained drained = drain(*follower);
    done.insert(done.end(), drained.ready.read_states.begin(), drained.ready.read_states.end());
    for (const pb::Message& message : read_requests(drained)) sent.push_back(message);
  }
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].request_id, 21u);
  EXPECT_FALSE(done[0].ok);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].read_index_request().request_id(), 22u);
}

TEST(ReadIndex, ReadsForwardedByANodeThatBecomesLeaderAreServedByIt) {
  CoreNetwork network(3);
  network.elect(1);
  ASSERT_TRUE(network.node(1).propose("a").ok());
  network.settle();
  network.isolate(1);
  network.node(2).read_index(31);  // forwarded to 1, which is cut off
  network.settle();
  network.elect(2);
  network.settle();
  ASSERT_EQ(network.read_states(2).size(), 1u);
  EXPECT_EQ(network.read_states(2)[0].request_id, 31u);
  EXPECT_TRUE(network.read_states(2)[0].ok);
  EXPECT_GE(network.read_states(2)[0].index, 2u);
}

// ----------------------------------------------------- leadership transfer --

// "1. The prior leader stops accepting new client requests. 2. The prior
// leader fully updates the target server's log to match its own ... 3. The
// prior leader sends a TimeoutNow request to the target server. This request
// has the same effect as the target server's election timer firing." --
// dissertation §3.10
TEST(LeadershipTransfer, LeaderCatchesUpTheTargetWhichThenWinsAnElection) {
  CoreNetwork network(3, enable_pre_vote_and_check_quorum);
  network.elect(1);
  network.cut(1, 3);
  ASSERT_TRUE(network.node(1).propose("x").ok());
  network.settle();
  ASSERT_LT(network.node(3).log().last_index(), network.node(1).log().last_index());
  ASSERT_TRUE(network.node(1).transfer_leadership(3).ok());
  const Result<ProposalTicket> refused = network.node(1).propose("y");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kLeadershipTransfer);
  network.heal();
  network.settle();
  EXPECT_EQ(network.node(3).role(), Role::kLeader);
  EXPECT_EQ(network.node(1).role(), Role::kFollower);
  EXPECT_EQ(network.node(1).leader(), 3u);
}

TEST(LeadershipTransfer, TransferThatCannotFinishIsAbandonedAfterAnElectionTimeout) {
  CoreNetwork network(3);
  network.elect(1);
  network.isolate(3);
  ASSERT_TRUE(network.node(1).transfer_leadership(3).ok());
  EXPECT_FALSE(network.node(1).propose("y").ok());
  network.tick_all(network.node(1).config().election_ticks);
  EXPECT_EQ(network.node(1).transfer_target(), kNoNode);
  EXPECT_TRUE(network.node(1).propose("z").ok());
}

// ------------------------------------------------------ replication window --

// "the leader can pipeline AppendEntries ... it sends the next request
// without waiting for the previous one to complete" with a limit on what is
// outstanding -- dissertation §10.2.2
TEST(Replication, LeaderKeepsAtMostTheWindowOfAppendsInFlightPerFollower) {
  CoreConfig config = testing::test_config(1, {1, 2});
  config.max_inflight_appends = 3;
  config.max_entries_per_append = 1;
  auto owned = leader_replicating_to_2(config);
  Core& leader = *owned;
  ASSERT_EQ(leader.followers().at(2).mode, ReplicationMode::kReplicate);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(leader.propose("x").ok());
  EXPECT_EQ(drain_messages(leader).size(), 3u);
  EXPECT_TRUE(leader.followers().at(2).paused());
  leader.step(append_response(2, 1, 1, 3));  // frees two slots
  EXPECT_EQ(drain_messages(leader).size(), 2u);
}

TEST(Replication, ProposalsBetweenReadiesTravelInOneAppendBoundedByCountAndBytes) {
  CoreConfig config = testing::test_config(1, {1, 2});
  config.max_entries_per_append = 4;
  config.max_bytes_per_append = 1000;
  auto owned = leader_replicating_to_2(config);
  Core& leader = *owned;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(leader.propose("small").ok());
  std::vector<pb::Message> messages = drain_messages(leader);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].append_entries().entries_size(), 3);

  for (int i = 0; i < 10; ++i) ASSERT_TRUE(leader.propose("s").ok());
  messages = drain_messages(leader);
  ASSERT_GE(messages.size(), 3u);
  EXPECT_EQ(messages[0].append_entries().entries_size(), 4) << "count bound";

  for (int i = 0; i < 3; ++i) ASSERT_TRUE(leader.propose(std::string(600, 'b')).ok());
  messages = drain_messages(leader);
  int big = 0;
  for (const pb::Message& message : messages) {
    for (const pb::Entry& e : message.append_entries().entries()) {
      if (e.data().size() == 600) {
        ++big;
        EXPECT_EQ(message.append_entries().entries_size(), 1) << "byte bound";
      }
    }
  }
  EXPECT_EQ(big, 3);
}

TEST(Replication, RejectionSwitchesToProbeAndBacksOffPastTheConflictingTerm) {
  RestoredState restored;
  restored.hard_state.set_term(5);
  restored.entries = testing::entries_with_terms({1, 1, 3, 3, 3, 5, 5});
  auto owned = testing::elected_leader(testing::test_config(1, {1, 2}), restored);
  Core& leader = *owned;
  // The follower holds term 4 entries from index 3 on: the leader has no term
  // 4, so it jumps straight to the follower's first term-4 index.
  leader.step(testing::append_rejection(2, 1, 6, 7, 3, 4));
  EXPECT_EQ(leader.followers().at(2).next_index, 3u);
  EXPECT_EQ(leader.followers().at(2).mode, ReplicationMode::kProbe);
  // A stale rejection (for a position no longer probed) changes nothing.
  leader.step(testing::append_rejection(2, 1, 6, 7, 3, 4));
  EXPECT_EQ(leader.followers().at(2).next_index, 3u);
}

// A lagging follower commits only what it holds (Figure 2, rule 5) but
// remembers how far the leader said the cluster has committed, so that it
// can tell it is catching up (raftkvd's health check).
TEST(Replication, ALaggingFollowerKnowsHowFarTheClusterCommitted) {
  Core follower(testing::test_config(2, {1, 2, 3}), RestoredState{});
  follower.step(testing::append_entries(1, 2, 1, 0, 0, testing::entries_with_terms({1, 1}), 500));
  EXPECT_EQ(follower.log().committed(), 2u);
  EXPECT_EQ(follower.known_cluster_commit(), 500u);
  // A later message with a lower leaderCommit (an old leader's, delayed)
  // does not lower it: what was committed stays committed.
  follower.step(testing::append_entries(1, 2, 1, 2, 1, {}, 100));
  EXPECT_EQ(follower.known_cluster_commit(), 500u);
  // A leader knows its own.
  auto leader = testing::elected_leader(testing::test_config(1, {1}));
  EXPECT_EQ(leader->known_cluster_commit(), leader->log().committed());
}

}  // namespace
}  // namespace raft

namespace raft {
namespace {

// --------------------------------------------------------------- robustness --
// A node must never crash or corrupt its log on a message no correct peer
// would send; Raft is not Byzantine-tolerant, but it must not trust garbage.

TEST(Robustness, AppendEntriesWithGapsOrBadTermsIsIgnored) {
  RestoredState restored;
  restored.hard_state.set_term(2);
  restored.entries = testing::entries_with_terms({1, 2});
  struct Case {
    const char* what;
    std::vector<pb::Entry> entries;
  };
  const std::vector<Case> cases = {
      {"gap", {testing::entry(4, 2)}},
      {"index repeats", {testing::entry(3, 2), testing::entry(3, 2)}},
      {"term decreases", {testing::entry(3, 2), testing::entry(4, 1)}},
      {"term above the sender's", {testing::entry(3, 5)}},
  };
  for (const Case& c : cases) {
    Core core(testing::test_config(1, {1, 2, 3}), restored);
    core.step(testing::append_entries(2, 1, 2, 2, 2, c.entries, 0));
    EXPECT_EQ(core.log().last_index(), 2u) << c.what;
    EXPECT_TRUE(drain_messages(core).empty()) << c.what;
  }
}

TEST(Robustness, EntriesThatWouldOverwriteCommittedOnesAreIgnored) {
  RestoredState restored;
  restored.hard_state.set_term(3);
  restored.hard_state.set_commit(2);
  restored.entries = testing::entries_with_terms({1, 2, 2});
  Core core(testing::test_config(1, {1, 2, 3}), restored);
  core.step(testing::append_entries(2, 1, 3, 1, 1, {testing::entry(2, 3)}, 0));
  EXPECT_EQ(testing::log_terms(core), (std::vector<Term>{1, 2, 2}));
  // Truncating above the commit index is the normal repair (rule 3).
  core.step(testing::append_entries(2, 1, 3, 2, 2, {testing::entry(3, 3)}, 0));
  EXPECT_EQ(testing::log_terms(core), (std::vector<Term>{1, 2, 3}));
}

TEST(Robustness, VotesFromNonMembersDoNotCount) {
  Core core(testing::test_config(1, {1, 2, 3}));
  core.campaign();
  core.step(testing::vote_response(7, 1, 1, true));
  core.step(testing::vote_response(8, 1, 1, true));
  EXPECT_EQ(core.role(), Role::kCandidate);
  core.step(testing::vote_response(2, 1, 1, true));
  EXPECT_EQ(core.role(), Role::kLeader);
}

TEST(Robustness, SecondLeaderInTheSameTermIsIgnored) {
  CoreNetwork network(3);
  network.elect(1);
  const std::vector<Term> before = testing::log_terms(network.node(1));
  network.node(1).step(
      testing::append_entries(2, 1, network.node(1).term(), 1, 1, {testing::entry(2, 1)}, 0));
  EXPECT_EQ(network.node(1).role(), Role::kLeader);
  EXPECT_EQ(testing::log_terms(network.node(1)), before);
}

TEST(Robustness, MessagesNotAddressedToThisNodeOrClaimingToComeFromItAreIgnored) {
  Core core(testing::test_config(1, {1, 2, 3}));
  core.step(testing::append_entries(2, 3, 5, 0, 0, {testing::entry(1, 5)}, 0));  // for node 3
  core.step(testing::request_vote(1, 1, 5, 0, 0));                               // from itself
  core.step(testing::request_vote(0, 1, 5, 0, 0));                               // from nobody
  EXPECT_EQ(core.term(), 0u);
  EXPECT_EQ(core.log().last_index(), 0u);
  EXPECT_TRUE(drain_messages(core).empty());
}

TEST(Robustness, AcknowledgementsOfEntriesTheLeaderNeverHadAreIgnored) {
  // A peer that lost its disk but not its id, or a process left over from
  // an earlier cluster with the same id, may claim entries beyond the
  // leader's log. Believing it would send the leader looking for a snapshot
  // it does not have.
  auto leader = leader_replicating_to_2(testing::test_config(1, {1, 2}));
  const Index last = leader->log().last_index();
  leader->step(append_response(2, 1, leader->term(), last + 10));
  EXPECT_EQ(leader->followers().at(2).match_index, last);
  EXPECT_EQ(leader->followers().at(2).next_index, last + 1);
  leader->step(testing::append_rejection(2, 1, leader->term(), last + 10, last + 5, 0));
  EXPECT_LE(leader->followers().at(2).next_index, last + 1);
  ASSERT_TRUE(leader->propose("x").ok());
  drain(*leader);  // and replication carries on
  leader->step(append_response(2, 1, leader->term(), last + 1));
  EXPECT_EQ(leader->followers().at(2).match_index, last + 1);
  EXPECT_EQ(leader->log().committed(), last + 1);
}

TEST(Robustness, TimeoutNowFromANodeOtherThanTheLeaderIsIgnored) {
  CoreNetwork network(3);
  network.elect(1);
  network.node(2).step(testing::timeout_now(3, 2, network.node(2).term()));
  EXPECT_EQ(network.node(2).role(), Role::kFollower);
}

}  // namespace
}  // namespace raft
