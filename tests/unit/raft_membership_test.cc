// Tests of membership changes (chapter 4 of Ongaro's dissertation,
// "Consensus: Bridging Theory and Practice", 2014), each quoting the rule it
// checks: single-server changes, learners, removal.

#include <gtest/gtest.h>

#include <set>

#include "raft/membership_history.h"
#include "tests/unit/core_test_support.h"

namespace raft {
namespace {

using testing::append_entries;
using testing::append_response;
using testing::CoreNetwork;
using testing::drain_messages;
using testing::request_vote;
using testing::vote_response;

MembershipChange add_learner(NodeId node) {
  return MembershipChange{MembershipChangeKind::kAddLearner, node, "127.0.0.1:" + std::to_string(7000 + node),
                          ""};
}
MembershipChange promote(NodeId node) {
  return MembershipChange{MembershipChangeKind::kPromote, node, "", ""};
}
MembershipChange remove(NodeId node) {
  return MembershipChange{MembershipChangeKind::kRemove, node, "", ""};
}

// A network of `voters` founding members plus nodes founders+1..total that
// start empty, as a node joining an existing cluster does.
CoreNetwork network_with_joiners(std::size_t founders, std::size_t total) {
  CoreNetwork network(founders);
  for (NodeId id = founders + 1; id <= total; ++id) {
    CoreConfig config = testing::test_config(id, {});
    config.random_seed = id;
    network.replace(id, std::make_unique<Core>(config));
  }
  return network;
}

// Proposes `change` at `leader` and lets the network deliver everything.
void change(CoreNetwork& network, NodeId leader, const MembershipChange& request) {
  const Result<ProposalTicket> ticket = network.node(leader).change_membership(request);
  ASSERT_TRUE(ticket.ok()) << ticket.error().to_string();
  network.settle();
  ASSERT_GE(network.node(leader).log().committed(), ticket.value().index);
}

pb::Entry configuration_entry(Index index, Term term, const Membership& membership) {
  pb::Entry entry = testing::entry(index, term, membership.serialize());
  entry.set_type(pb::ENTRY_CONFIGURATION);
  return entry;
}

// ------------------------------------------------------------ the values --

TEST(Membership, ChangesThatMakeNoSenseAreRefusedWithTheReason) {
  const Membership membership = Membership::of_voters({1, 2, 3});
  const Result<Membership> twice = membership.apply(add_learner(2));
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(twice.error().message.find("already a member"), std::string::npos);
  EXPECT_FALSE(membership.apply(promote(2)).ok()) << "a voter cannot be promoted";
  EXPECT_FALSE(membership.apply(promote(4)).ok()) << "nor can a stranger";
  EXPECT_FALSE(membership.apply(remove(4)).ok());
  EXPECT_EQ(membership.apply(MembershipChange{MembershipChangeKind::kAddLearner, 4, "", ""}).error().code,
            ErrorCode::kInvalidArgument)
      << "a new member needs an address";
  const Result<Membership> last = Membership::of_voters({1}).apply(remove(1));
  ASSERT_FALSE(last.ok());
  EXPECT_NE(last.error().message.find("only voter"), std::string::npos);
}

TEST(Membership, LearnersArePromotedAndMembersRemovedKeepingAddresses) {
  Membership membership = Membership::of_voters({1, 2, 3}).apply(add_learner(4)).value();
  EXPECT_TRUE(membership.is_learner(4));
  EXPECT_FALSE(membership.is_voter(4));
  EXPECT_EQ(membership.address_of(4), "127.0.0.1:7004");
  membership = membership.apply(promote(4)).value();
  EXPECT_TRUE(membership.is_voter(4));
  EXPECT_EQ(membership.address_of(4), "127.0.0.1:7004");
  membership = membership.apply(remove(2)).value();
  EXPECT_EQ(membership.voters(), (std::vector<NodeId>{1, 3, 4}));
  const Result<Membership> again = membership.apply(add_learner(2));
  ASSERT_FALSE(again.ok()) << "a removed id is never reused";
  EXPECT_NE(again.error().message.find("needs a new id"), std::string::npos);
  EXPECT_EQ(Membership::parse(membership.serialize()).value(), membership);
  EXPECT_FALSE(Membership::parse("\xff garbage").ok());
}

TEST(MembershipHistory, FollowsAppendsTruncationsCompactionAndSnapshots) {
  MembershipHistory history(0, Membership::of_voters({1, 2, 3}));
  history.append(5, Membership::of_voters({1, 2, 3, 4}));
  history.append(9, Membership::of_voters({1, 2, 4}));
  EXPECT_EQ(history.at(4), Membership::of_voters({1, 2, 3}));
  EXPECT_EQ(history.at(5), Membership::of_voters({1, 2, 3, 4}));
  EXPECT_EQ(history.index_at(8), 5u);
  EXPECT_EQ(history.latest(), Membership::of_voters({1, 2, 4}));
  history.truncate_after(8);  // a new leader overwrote index 9
  EXPECT_EQ(history.latest_index(), 5u);
  history.compact(7);
  EXPECT_EQ(history.all().size(), 1u);
  EXPECT_EQ(history.at(100), Membership::of_voters({1, 2, 3, 4}));
  history.truncate_after(0);
  EXPECT_EQ(history.latest_index(), 5u) << "the base is never truncated";
  history.reset(20, Membership::of_voters({7}));
  EXPECT_EQ(history.latest(), Membership::of_voters({7}));
}

// ----------------------------------------------------------- the protocol --

// "a leader may not append a new configuration entry until it has committed
// an entry from its current term" -- the fix to single-server changes
// (raft-dev, 2015), needed because "a server could be elected leader
// without having seen a committed configuration change".
TEST(MembershipChange, ANewLeaderProposesNoChangeBeforeItCommitsAnEntryOfItsTerm) {
  auto leader = testing::elected_leader(testing::test_config(1, {1, 2, 3}));
  const Result<ProposalTicket> early = leader->change_membership(add_learner(4));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, ErrorCode::kFailedPrecondition);
  leader->step(append_response(2, 1, leader->term(), leader->log().last_index()));
  drain_messages(*leader);
  EXPECT_TRUE(leader->change_membership(add_learner(4)).ok()) << "the no-op is committed now";
}

// "The leader ... must wait for the previous configuration change to be
// committed before it can start the next" -- dissertation §4.1
TEST(MembershipChange, AtMostOneChangeIsInFlight) {
  auto leader = testing::elected_leader(testing::test_config(1, {1, 2, 3}));
  leader->step(append_response(2, 1, leader->term(), leader->log().last_index()));
  drain_messages(*leader);
  ASSERT_TRUE(leader->change_membership(add_learner(4)).ok());
  const Result<ProposalTicket> second = leader->change_membership(add_learner(5));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(second.error().message.find("one change at a time"), std::string::npos);
  drain_messages(*leader);
  leader->step(append_response(2, 1, leader->term(), leader->log().last_index()));
  drain_messages(*leader);
  EXPECT_TRUE(leader->change_membership(add_learner(5)).ok());
}

// "the new configuration takes effect on each server as soon as it is added
// to that server's log ... a server always uses the latest configuration in
// its log, regardless of whether the entry is committed" -- §4.1
TEST(MembershipChange, AConfigurationTakesEffectWhenAppendedNotWhenCommitted) {
  auto leader = testing::elected_leader(testing::test_config(1, {1, 2, 3}));
  leader->step(append_response(2, 1, leader->term(), leader->log().last_index()));
  drain_messages(*leader);
  ASSERT_TRUE(leader->change_membership(add_learner(4)).ok());
  EXPECT_TRUE(leader->membership().is_learner(4));
  EXPECT_TRUE(leader->followers().contains(4)) << "the leader replicates to the learner at once";

  Core follower(testing::test_config(2, {1, 2, 3}));
  const Membership grown = Membership::of_voters({1, 2, 3}).apply(add_learner(4)).value();
  follower.step(append_entries(1, 2, 1, 0, 0, {configuration_entry(1, 1, grown)}, 0));
  drain_messages(follower);
  EXPECT_EQ(follower.log().committed(), 0u);
  EXPECT_EQ(follower.membership(), grown);
}

// "when a configuration entry is removed from the log (due to a leader
// change), the server reverts to the previous configuration" -- §4.1
TEST(MembershipChange, AFollowerFallsBackToThePreviousConfigurationWhenTheEntryIsTruncated) {
  Core follower(testing::test_config(2, {1, 2, 3}));
  const Membership shrunk = Membership::of_voters({1, 2});
  follower.step(append_entries(1, 2, 1, 0, 0, {testing::entry(1, 1), configuration_entry(2, 1, shrunk)}, 1));
  drain_messages(follower);
  ASSERT_EQ(follower.membership(), shrunk);
  // Leader 3 of term 2 never had entry 2: its own entry replaces it.
  follower.step(append_entries(3, 2, 2, 1, 1, {testing::entry(2, 2)}, 1));
  drain_messages(follower);
  EXPECT_EQ(follower.log().at(2).term(), 2u);
  EXPECT_EQ(follower.membership(), Membership::of_voters({1, 2, 3}));
}

TEST(MembershipChange, ARestartedNodeTakesItsConfigurationFromItsLog) {
  RestoredState restored;
  restored.hard_state.set_term(1);
  const Membership grown = Membership::of_voters({1, 2, 3}).apply(add_learner(4)).value();
  restored.entries = {configuration_entry(1, 1, Membership::of_voters({1, 2, 3})),
                      configuration_entry(2, 1, grown)};
  // The configured voters are only the fallback of a log without any.
  Core core(testing::test_config(1, {1, 9}), restored);
  EXPECT_EQ(core.membership(), grown);
  EXPECT_EQ(core.memberships().at(1), Membership::of_voters({1, 2, 3}));
}

// "Learners" -- non-voting members (§4.2.1): "the new servers join the
// cluster as non-voting members (the leader replicates log entries to them,
// but they are not considered for majorities)".
TEST(Learners, ReceiveTheLogButNeverCountTowardsCommitment) {
  auto leader = testing::elected_leader(testing::test_config(1, {1, 2, 3}));
  leader->step(append_response(2, 1, leader->term(), leader->log().last_index()));
  drain_messages(*leader);
  ASSERT_TRUE(leader->change_membership(add_learner(4)).ok());
  leader->step(append_response(2, 1, leader->term(), leader->log().last_index()));
  drain_messages(*leader);
  const Index index = leader->propose("x").value().index;
  drain_messages(*leader);
  leader->step(append_response(4, 1, leader->term(), index));
  drain_messages(*leader);
  EXPECT_LT(leader->log().committed(), index) << "the leader and a learner are no majority of three voters";
  leader->step(append_response(3, 1, leader->term(), index));
  drain_messages(*leader);
  EXPECT_EQ(leader->log().committed(), index);
}

TEST(Learners, NeverCampaignAndIgnoreTimeoutNow) {
  CoreNetwork network = network_with_joiners(3, 4);
  network.elect(1);
  change(network, 1, add_learner(4));
  ASSERT_TRUE(network.node(4).membership().is_learner(4));
  network.isolate(1);
  for (int i = 0; i < 100; ++i) network.node(4).tick();
  network.settle();
  EXPECT_EQ(network.node(4).role(), Role::kFollower);
  network.node(4).step(testing::timeout_now(1, 4, network.node(4).term()));
  EXPECT_EQ(network.node(4).role(), Role::kFollower);
  const Status transfer = network.node(1).transfer_leadership(4);
  ASSERT_FALSE(transfer.ok()) << "leadership goes to voters only";
  EXPECT_EQ(transfer.error().code, ErrorCode::kInvalidArgument);
}

// "the leader should ... only [add the server as a voter] once the new
// server's log has caught up" -- §4.2.1
TEST(Learners, ArePromotedOnlyOnceCaughtUp) {
  CoreNetwork network = network_with_joiners(3, 4);
  network.elect(1);
  network.isolate(4);
  change(network, 1, add_learner(4));
  for (int i = 0; i < 600; ++i) ASSERT_TRUE(network.node(1).propose("x").ok());
  network.settle();
  const Result<ProposalTicket> early = network.node(1).change_membership(promote(4));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(early.error().message.find("has not caught up"), std::string::npos) << early.error().message;
  network.heal();
  network.tick_all(2);  // heartbeats find where the learner's log ends
  EXPECT_TRUE(network.node(1).caught_up(4));
  change(network, 1, promote(4));
  EXPECT_TRUE(network.node(4).membership().is_voter(4));
  EXPECT_EQ(network.node(4).log().last_index(), network.node(1).log().last_index());
}

// "Votes and acknowledgements from non-members never count."
TEST(MembershipChange, VotesFromNonMembersNeverCount) {
  Core candidate(testing::test_config(1, {1, 2, 3}));
  candidate.campaign();
  drain_messages(candidate);
  candidate.step(vote_response(4, 1, candidate.term(), true));
  candidate.step(vote_response(5, 1, candidate.term(), true));
  EXPECT_EQ(candidate.role(), Role::kCandidate);
  candidate.step(vote_response(2, 1, candidate.term(), true));
  EXPECT_EQ(candidate.role(), Role::kLeader);
}

TEST(MembershipChange, GrowingThreeToFiveThroughLearnersMovesTheMajority) {
  CoreNetwork network = network_with_joiners(3, 5);
  network.elect(1);
  for (NodeId joiner : {4, 5}) {
    change(network, 1, add_learner(joiner));
    change(network, 1, promote(joiner));
  }
  EXPECT_EQ(network.node(5).membership().voters(), (std::vector<NodeId>{1, 2, 3, 4, 5}));
  // Two of five down: the other three still commit; three down: nothing does.
  network.isolate(2);
  network.isolate(3);
  const Index index = network.node(1).propose("with 1, 4, 5").value().index;
  network.settle();
  EXPECT_GE(network.node(1).log().committed(), index);
  network.isolate(4);
  const Index stuck = network.node(1).propose("with 1, 5").value().index;
  network.settle();
  EXPECT_LT(network.node(1).log().committed(), stuck);
}

// "With single-server changes ... once the [removal] entry is committed,
// the removed server" is no longer part of the cluster (§4.2.2); here it is
// told so when it next asks for votes, and it stops campaigning.
TEST(Removal, ARemovedNodeThatMissedItsRemovalLearnsItWhenItAsksForVotes) {
  CoreNetwork network(3, [](CoreConfig& config) { config.pre_vote = config.check_quorum = true; });
  network.elect(1);
  network.isolate(3);
  change(network, 1, remove(3));
  EXPECT_FALSE(network.node(1).followers().contains(3)) << "the leader stops replicating to it";
  network.heal();
  const Term term = network.node(1).term();
  for (int i = 0; i < 40 && !network.node(3).removed(); ++i) {
    network.node(3).tick();
    network.tick_all(1);
  }
  EXPECT_TRUE(network.node(3).removed());
  for (int i = 0; i < 40; ++i) network.node(3).tick();
  network.settle();
  EXPECT_EQ(network.node(3).role(), Role::kFollower) << "a removed node never campaigns";
  EXPECT_EQ(network.node(1).role(), Role::kLeader);
  EXPECT_EQ(network.node(1).term(), term);
}

// Found by the fault harness: a leader removed itself, lost leadership
// before it saw the removal commit, and -- no voter in the configuration it
// holds -- never campaigned, so nobody ever told it.
TEST(Removal, ANodeHoldingItsUncommittedRemovalAsksTheVotersWhenNoLeaderCalls) {
  Core follower(testing::test_config(3, {1, 2, 3}));
  follower.step(append_entries(1, 3, 1, 0, 0, {configuration_entry(1, 1, Membership::of_voters({1, 2}))}, 0));
  drain_messages(follower);
  ASSERT_FALSE(follower.is_voter(3));
  for (int i = 0; i < 2 * follower.config().election_ticks; ++i) follower.tick();
  std::set<NodeId> asked;
  for (const pb::Message& message : drain_messages(follower)) {
    if (message.has_request_vote() && message.request_vote().pre_vote()) asked.insert(message.to());
  }
  EXPECT_EQ(asked, (std::set<NodeId>{1, 2}));
  EXPECT_EQ(follower.role(), Role::kFollower) << "it asks; it does not campaign";
  pb::Message told = vote_response(2, 3, 0, false, true);
  told.mutable_request_vote_response()->set_requester_removed(true);
  follower.step(told);
  EXPECT_TRUE(follower.removed());
}

TEST(Removal, ANodeIsToldItWasRemovedOnlyWhenItsLogEndsBeforeItsRemoval) {
  CoreNetwork network(3);
  network.elect(1);
  change(network, 1, remove(3));
  const Index removal = network.node(1).memberships().latest_index();
  Core& leader = network.node(1);
  auto told_removed = [&](Index last_log_index) {
    leader.step(request_vote(3, 1, leader.term() + 1, last_log_index, leader.term(), true));
    const std::vector<pb::Message> replies = drain_messages(leader);
    return replies.size() == 1 && replies[0].request_vote_response().requester_removed();
  };
  EXPECT_TRUE(told_removed(removal - 1));
  // A log that reaches the removal's index may hold another entry there (one
  // that adds the node, from a leader whose entries were never committed):
  // no voter can tell.
  EXPECT_FALSE(told_removed(removal));
  EXPECT_EQ(leader.role(), Role::kLeader);
}

// "the leader ... steps down ... once the Cnew entry is committed" when
// it is not part of the new configuration -- §4.2.2
TEST(Removal, ALeaderRemovingItselfStepsDownOnceTheRemovalCommitsAndHandsOver) {
  CoreNetwork network(3);
  network.elect(1);
  change(network, 1, remove(1));
  EXPECT_TRUE(network.node(1).removed());
  EXPECT_NE(network.node(1).role(), Role::kLeader);
  network.settle();
  const NodeId successor = network.node(2).role() == Role::kLeader ? 2 : 3;
  EXPECT_EQ(network.node(successor).role(), Role::kLeader) << "TimeoutNow started an election at once";
  EXPECT_EQ(network.node(successor).membership().voters(), (std::vector<NodeId>{2, 3}));
  const Index index = network.node(successor).propose("after").value().index;
  network.settle();
  EXPECT_GE(network.node(successor).log().committed(), index);
}

TEST(Removal, ARemovedVoterNoLongerCountsTowardsTheMajority) {
  CoreNetwork network(3);
  network.elect(1);
  change(network, 1, remove(3));
  network.isolate(3);
  const Index index = network.node(1).propose("1 and 2 are all").value().index;
  network.settle();
  EXPECT_GE(network.node(1).log().committed(), index);
  network.node(1).step(append_response(3, 1, network.node(1).term(), index + 10));
  EXPECT_FALSE(network.node(1).followers().contains(3));
}

}  // namespace
}  // namespace raft
