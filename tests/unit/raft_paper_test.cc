// Tests named after the rules of the Raft paper ("In Search of an
// Understandable Consensus Algorithm (Extended Version)", Ongaro and
// Ousterhout 2014). Each opens with the sentence it checks and its section,
// in the manner of etcd's raft_paper_test.go. The paper's Figure 2 is the
// checklist: rules for all servers, followers, candidates and leaders, and
// the receiver rules of RequestVote and AppendEntries.

#include <gtest/gtest.h>

#include <set>

#include "tests/unit/core_test_support.h"

namespace raft {
namespace {

using testing::append_entries;
using testing::append_rejection;
using testing::append_response;
using testing::CoreNetwork;
using testing::drain;
using testing::drain_messages;
using testing::entries_with_terms;
using testing::entry;
using testing::log_terms;
using testing::request_vote;
using testing::test_config;
using testing::vote_response;

const std::vector<NodeId> kThree{1, 2, 3};
const std::vector<NodeId> kFive{1, 2, 3, 4, 5};

std::unique_ptr<Core> make_core(NodeId id, std::vector<NodeId> voters, RestoredState restored = {}) {
  return std::make_unique<Core>(test_config(id, std::move(voters)), std::move(restored));
}

RestoredState restored_at(Term term, std::vector<Term> log_terms = {}, Index commit = 0) {
  RestoredState restored;
  restored.hard_state.set_term(term);
  restored.hard_state.set_commit(commit);
  restored.entries = entries_with_terms(log_terms);
  return restored;
}

// Node 1 as leader of `voters` at term restored.term + 1.
std::unique_ptr<Core> make_leader(std::vector<NodeId> voters, RestoredState restored = {}) {
  return testing::elected_leader(test_config(1, std::move(voters)), std::move(restored));
}

std::vector<pb::Message> with_body(const std::vector<pb::Message>& messages, pb::Message::BodyCase body) {
  std::vector<pb::Message> result;
  for (const pb::Message& message : messages) {
    if (message.body_case() == body) result.push_back(message);
  }
  return result;
}

void tick_until_election(Core& core) {
  const Role start = core.role();
  const Term term = core.term();
  for (int i = 0; i < 2 * core.config().election_ticks + 1; ++i) {
    core.tick();
    if (core.role() != start || core.term() != term) return;
  }
}

// ------------------------------------------------------ §5.1 all servers --

// "Current terms are exchanged whenever servers communicate; if one server's
// current term is smaller than the other's, then it updates its current term
// to the larger value." -- §5.1
TEST(RaftPaper, ServerUpdatesItsTermToTheLargerTermItSees) {
  for (Role role : {Role::kFollower, Role::kCandidate, Role::kLeader}) {
    SCOPED_TRACE(to_string(role));
    std::unique_ptr<Core> core;
    if (role == Role::kLeader) {
      core = make_leader(kThree);
    } else {
      core = make_core(1, kThree);
      if (role == Role::kCandidate) core->campaign();
    }
    ASSERT_EQ(core->role(), role);
    core->step(append_entries(2, 1, 7, 0, 0, {}, 0));
    EXPECT_EQ(core->term(), 7u);
    EXPECT_EQ(core->role(), Role::kFollower);
    EXPECT_EQ(core->leader(), 2u);
  }
}

// "If a candidate or leader discovers that its term is out of date, it
// immediately reverts to follower state." -- §5.1
TEST(RaftPaper, CandidateOrLeaderWithOutdatedTermRevertsToFollower) {
  auto candidate = make_core(1, kThree);
  candidate->campaign();
  ASSERT_EQ(candidate->role(), Role::kCandidate);
  candidate->step(vote_response(2, 1, candidate->term() + 1, false));
  EXPECT_EQ(candidate->role(), Role::kFollower);
  EXPECT_EQ(candidate->term(), 2u);

  auto leader = make_leader(kThree);
  leader->step(request_vote(3, 1, leader->term() + 1, 100, 100));
  EXPECT_EQ(leader->role(), Role::kFollower);
  EXPECT_EQ(leader->term(), 2u);
  EXPECT_EQ(leader->leader(), kNoNode);
}

// "If a server receives a request with a stale term number, it rejects the
// request." -- §5.1 (AppendEntries receiver rule 1 and RequestVote receiver
// rule 1: "Reply false if term < currentTerm", §5.1)
TEST(RaftPaper, ServerRejectsRequestWithStaleTerm) {
  auto core = make_core(1, kThree, restored_at(5, {1, 2}));
  core->step(append_entries(2, 1, 4, 2, 2, {entry(3, 4)}, 3));
  core->step(request_vote(3, 1, 4, 10, 4));
  const std::vector<pb::Message> replies = drain_messages(*core);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].term(), 5u);
  EXPECT_FALSE(replies[0].append_entries_response().success());
  EXPECT_EQ(replies[1].term(), 5u);
  EXPECT_FALSE(replies[1].request_vote_response().vote_granted());
  // Nothing about the request was taken in.
  EXPECT_EQ(core->log().last_index(), 2u);
  EXPECT_EQ(core->log().committed(), 0u);
  EXPECT_EQ(core->voted_for(), kNoNode);
  EXPECT_EQ(core->term(), 5u);
}

// "When servers start up, they begin as followers." -- §5.2
TEST(RaftPaper, ServersStartAsFollowers) {
  auto core = make_core(1, kThree, restored_at(3, {1, 3}));
  EXPECT_EQ(core->role(), Role::kFollower);
  EXPECT_EQ(core->term(), 3u);
}

// --------------------------------------------------- §5.2 leader election --

// "Leaders send periodic heartbeats (AppendEntries RPCs that carry no log
// entries) to all followers in order to maintain their authority." -- §5.2
// Figure 2, rules for leaders: "repeat during idle periods to prevent
// election timeouts".
TEST(RaftPaper, LeaderSendsPeriodicEmptyHeartbeatsToAllFollowers) {
  auto leader = make_leader(kFive);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < leader->config().heartbeat_ticks; ++i) leader->tick();
    const auto heartbeats = with_body(drain_messages(*leader), pb::Message::kAppendEntries);
    std::set<NodeId> recipients;
    for (const pb::Message& heartbeat : heartbeats) {
      EXPECT_EQ(heartbeat.append_entries().entries_size(), 0);
      EXPECT_EQ(heartbeat.term(), leader->term());
      recipients.insert(heartbeat.to());
    }
    EXPECT_EQ(recipients, (std::set<NodeId>{2, 3, 4, 5}));
  }
}

// "If a follower receives no communication over a period of time called the
// election timeout, then it assumes there is no viable leader and begins an
// election to choose a new leader. To begin an election, a follower
// increments its current term and transitions to candidate state. It then
// votes for itself and issues RequestVote RPCs in parallel to each of the
// other servers in the cluster." -- §5.2
TEST(RaftPaper, FollowerStartsElectionAfterElectionTimeout) {
  auto core = make_core(1, kFive, restored_at(1, {1}));
  tick_until_election(*core);
  EXPECT_EQ(core->role(), Role::kCandidate);
  EXPECT_EQ(core->term(), 2u);
  EXPECT_EQ(core->voted_for(), 1u);
  const auto requests = with_body(drain_messages(*core), pb::Message::kRequestVote);
  std::set<NodeId> recipients;
  for (const pb::Message& request : requests) {
    EXPECT_EQ(request.term(), 2u);
    EXPECT_EQ(request.request_vote().last_log_index(), 1u);
    EXPECT_EQ(request.request_vote().last_log_term(), 1u);
    recipients.insert(request.to());
  }
  EXPECT_EQ(recipients, (std::set<NodeId>{2, 3, 4, 5}));
}

// "Raft uses randomized election timeouts to ensure that split votes are
// rare ... election timeouts are chosen randomly from a fixed interval
// (e.g., 150-300ms)." -- §5.2
TEST(RaftPaper, ElectionTimeoutsAreRandomizedWithinAFixedInterval) {
  std::set<int> seen;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    CoreConfig config = test_config(1, kThree);
    config.random_seed = seed;
    Core core(config);
    const int ticks_until_election = [&] {
      for (int tick = 1;; ++tick) {
        core.tick();
        if (core.role() != Role::kFollower) return tick;
      }
    }();
    EXPECT_GE(ticks_until_election, config.election_ticks);
    EXPECT_LT(ticks_until_election, 2 * config.election_ticks);
    seen.insert(ticks_until_election);
  }
  EXPECT_GT(seen.size(), 5u) << "timeouts should spread over the interval";
}

// Figure 2, rules for followers: "If election timeout elapses without
// receiving AppendEntries RPC from current leader or granting vote to
// candidate: convert to candidate."
TEST(RaftPaper, FollowerThatHearsFromLeaderOrGrantsVoteDoesNotTimeOut) {
  auto core = make_core(1, kThree);
  for (int i = 0; i < 100; ++i) {
    core->tick();
    if (i % 5 == 0) core->step(append_entries(2, 1, 1, 0, 0, {}, 0));
  }
  EXPECT_EQ(core->role(), Role::kFollower);
  core->step(append_entries(2, 1, 1, 0, 0, {}, 0));
  for (int i = 0; i < core->randomized_election_timeout() - 1; ++i) core->tick();
  core->step(request_vote(3, 1, 2, 0, 0));  // granting a vote resets the timer
  ASSERT_EQ(core->voted_for(), 3u);
  for (int i = 0; i < core->config().election_ticks - 1; ++i) core->tick();
  EXPECT_EQ(core->role(), Role::kFollower);
}

// "A candidate wins an election if it receives votes from a majority of the
// servers in the full cluster for the same term." -- §5.2
// Figure 2, rules for candidates: "If votes received from majority of
// servers: become leader".
TEST(RaftPaper, CandidateWinsWithVotesFromAMajority) {
  struct Case {
    std::size_t size;
    std::map<NodeId, bool> votes;
    Role expected;
  };
  const std::vector<Case> cases = {
      {1, {}, Role::kLeader},
      {3, {{2, true}}, Role::kLeader},
      {3, {{2, false}}, Role::kCandidate},
      {3, {{2, false}, {3, false}}, Role::kFollower},
      {5, {{2, true}}, Role::kCandidate},
      {5, {{2, true}, {3, true}}, Role::kLeader},
      {5, {{2, false}, {3, false}}, Role::kCandidate},
      {5, {{2, false}, {3, false}, {4, false}}, Role::kFollower},
      {4, {{2, false}, {3, false}}, Role::kFollower},  // 2 of 4 can no longer win
  };
  for (const Case& c : cases) {
    std::vector<NodeId> voters;
    for (NodeId id = 1; id <= c.size; ++id) voters.push_back(id);
    auto core = make_core(1, voters);
    core->campaign();
    for (const auto& [voter, granted] : c.votes) core->step(vote_response(voter, 1, 1, granted));
    EXPECT_EQ(core->role(), c.expected) << "cluster of " << c.size;
  }
}

// "Each server will vote for at most one candidate in a given term, on a
// first-come-first-served basis." -- §5.2
// RequestVote receiver rule 2: "If votedFor is null or candidateId, and
// candidate's log is at least as up-to-date as receiver's log, grant vote."
TEST(RaftPaper, ServerVotesForAtMostOneCandidatePerTerm) {
  auto core = make_core(1, kThree);
  core->step(request_vote(2, 1, 1, 0, 0));
  core->step(request_vote(3, 1, 1, 0, 0));
  core->step(request_vote(2, 1, 1, 0, 0));  // a retransmission is granted again
  const auto replies = drain_messages(*core);
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_TRUE(replies[0].request_vote_response().vote_granted());
  EXPECT_FALSE(replies[1].request_vote_response().vote_granted());
  EXPECT_TRUE(replies[2].request_vote_response().vote_granted());
  EXPECT_EQ(core->voted_for(), 2u);
}

// "Raft determines which of two logs is more up-to-date by comparing the
// index and term of the last entries in the logs. If the logs have last
// entries with different terms, then the log with the later term is more
// up-to-date. If the logs end with the same term, then whichever log is
// longer is more up-to-date." -- §5.4.1
TEST(RaftPaper, VoterGrantsOnlyToCandidateWithLogAtLeastAsUpToDate) {
  struct Case {
    Index last_index;
    Term last_term;
    bool granted;
  };
  // The voter's log is [1, 2, 2]: last index 3, last term 2.
  const std::vector<Case> cases = {
      {3, 2, true}, {4, 2, true}, {2, 2, false}, {1, 3, true}, {5, 1, false}, {3, 1, false},
  };
  for (const Case& c : cases) {
    auto core = make_core(1, kThree, restored_at(2, {1, 2, 2}));
    core->step(request_vote(2, 1, 3, c.last_index, c.last_term));
    const auto replies = drain_messages(*core);
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_EQ(replies[0].request_vote_response().vote_granted(), c.granted)
        << "candidate last (" << c.last_index << ", " << c.last_term << ")";
  }
}

// "While waiting for votes, a candidate may receive an AppendEntries RPC from
// another server claiming to be leader. If the leader's term ... is at least
// as large as the candidate's current term, then the candidate recognizes
// the leader as legitimate and returns to follower state." -- §5.2
TEST(RaftPaper, CandidateReturnsToFollowerOnAppendEntriesFromLeaderOfItsTerm) {
  auto core = make_core(1, kThree);
  core->campaign();
  ASSERT_EQ(core->role(), Role::kCandidate);
  core->step(append_entries(2, 1, core->term(), 0, 0, {}, 0));
  EXPECT_EQ(core->role(), Role::kFollower);
  EXPECT_EQ(core->leader(), 2u);
  EXPECT_EQ(core->term(), 1u);
}

// "The third possible outcome is that a candidate neither wins nor loses the
// election ... When this happens, each candidate will time out and start a
// new election by incrementing its term and initiating another round of
// RequestVote RPCs." -- §5.2 (Figure 2: "If election timeout elapses: start
// new election")
TEST(RaftPaper, CandidateStartsANewElectionWhenItsElectionTimesOut) {
  auto core = make_core(1, kFive);
  core->campaign();
  drain_messages(*core);
  tick_until_election(*core);
  EXPECT_EQ(core->role(), Role::kCandidate);
  EXPECT_EQ(core->term(), 2u);
  EXPECT_EQ(with_body(drain_messages(*core), pb::Message::kRequestVote).size(), 4u);
}

// "Persistent state on all servers: (Updated on stable storage before
// responding to RPCs)" -- Figure 2. A vote is handed to storage with its
// term in the same Ready, and the reply is only released after persisting.
TEST(RaftPaper, VoteIsPersistedBeforeTheReplyLeaves) {
  auto core = make_core(1, kThree);
  core->step(request_vote(2, 1, 4, 0, 0));
  const Ready ready = drain(*core).ready;
  ASSERT_TRUE(ready.hard_state.has_value());
  EXPECT_EQ(ready.hard_state->term(), 4u);
  EXPECT_EQ(ready.hard_state->vote(), 2u);
  EXPECT_TRUE(ready.must_sync);
  EXPECT_TRUE(ready.messages.empty());
  ASSERT_EQ(ready.messages_after_persist.size(), 1u);
  EXPECT_TRUE(ready.messages_after_persist[0].request_vote_response().vote_granted());
}

// ------------------------------------------------- §5.3 log replication --

// "When a leader first comes to power, it initializes all nextIndex values
// to the index just after the last one in its log." -- §5.3; and, §8, "each
// leader commit[s] a blank no-op entry into the log at the start of its term".
TEST(RaftPaper, NewLeaderInitializesNextIndexAndAppendsANoOp) {
  auto leader = make_leader(kThree, restored_at(2, {1, 2, 2}));
  ASSERT_EQ(leader->log().last_index(), 4u);
  EXPECT_EQ(leader->log().at(4).type(), pb::ENTRY_NOOP);
  EXPECT_EQ(leader->log().at(4).term(), 3u);
  for (const auto& [peer, progress] : leader->followers()) {
    // The no-op was sent to each follower starting at the initial nextIndex 4.
    EXPECT_EQ(progress.match_index, 0u);
    EXPECT_EQ(progress.mode, ReplicationMode::kProbe);
    EXPECT_EQ(progress.next_index, 4u);
  }
}

// Figure 2, rules for leaders: "Upon election: send initial empty
// AppendEntries RPCs (heartbeat) to each server". Ours carries the new
// term's no-op (§8) and asserts leadership just the same.
TEST(RaftPaper, NewLeaderSendsAppendEntriesToEveryServerAtOnce) {
  auto core = make_core(1, kFive);
  core->campaign();
  drain_messages(*core);
  for (NodeId voter : {2, 3}) core->step(vote_response(voter, 1, 1, true));
  ASSERT_EQ(core->role(), Role::kLeader);
  const Ready ready = drain(*core).ready;
  std::set<NodeId> recipients;
  for (const pb::Message& message : ready.messages) {
    ASSERT_TRUE(message.has_append_entries());
    EXPECT_EQ(message.term(), 1u);
    recipients.insert(message.to());
  }
  EXPECT_EQ(recipients, (std::set<NodeId>{2, 3, 4, 5}));
}

// Figure 2, rules for leaders: "If last log index >= nextIndex for a
// follower: send AppendEntries RPC with log entries starting at nextIndex".
TEST(RaftPaper, LeaderSendsEntriesStartingAtEachFollowersNextIndex) {
  auto leader = make_leader({1, 2}, restored_at(1, {1, 1, 1, 1}));  // no-op at 5
  // The follower turns out to hold only the first two entries.
  leader->step(append_rejection(2, 1, 2, 4, 3, 0));
  const std::vector<pb::Message> messages = drain_messages(*leader);
  ASSERT_EQ(messages.size(), 1u);
  const pb::AppendEntries& append = messages[0].append_entries();
  EXPECT_EQ(append.prev_log_index(), 2u);
  ASSERT_EQ(append.entries_size(), 3);
  EXPECT_EQ(append.entries(0).index(), 3u);
  EXPECT_EQ(append.entries(2).index(), 5u);
}

// "Once a leader has been elected, it begins servicing client requests ...
// The leader appends the command to its log as a new entry, then issues
// AppendEntries RPCs in parallel to each of the other servers to replicate
// the entry." -- §5.3 (Figure 2: "If command received from client: append
// entry to local log")
TEST(RaftPaper, LeaderAppendsCommandAndReplicatesItToEveryFollower) {
  auto leader = make_leader(kThree);
  for (NodeId peer : {2, 3}) leader->step(append_response(peer, 1, 1, 1));  // acks the no-op
  drain_messages(*leader);
  const Result<ProposalTicket> ticket = leader->propose("x");
  ASSERT_TRUE(ticket.ok());
  EXPECT_EQ(ticket.value().index, 2u);
  EXPECT_EQ(ticket.value().term, 1u);
  const Ready ready = drain(*leader).ready;
  ASSERT_EQ(ready.entries.size(), 1u);
  EXPECT_EQ(ready.entries[0].data(), "x");
  ASSERT_EQ(ready.messages.size(), 2u);
  for (const pb::Message& message : ready.messages) {
    const pb::AppendEntries& append = message.append_entries();
    EXPECT_EQ(append.prev_log_index(), 1u);
    EXPECT_EQ(append.prev_log_term(), 1u);
    ASSERT_EQ(append.entries_size(), 1);
    EXPECT_EQ(append.entries(0).data(), "x");
  }
}

// "A log entry is committed once the leader that created the entry has
// replicated it on a majority of the servers." -- §5.3
// Figure 2, rules for leaders: "If there exists an N such that N >
// commitIndex, a majority of matchIndex[i] >= N, and log[N].term ==
// currentTerm: set commitIndex = N".
TEST(RaftPaper, LeaderCommitsAnEntryOnceAMajorityHoldsIt) {
  auto leader = make_leader(kFive);
  EXPECT_EQ(leader->log().committed(), 0u);
  leader->step(append_response(2, 1, 1, 1));
  EXPECT_EQ(leader->log().committed(), 0u) << "leader and one follower are not a majority of five";
  leader->step(append_response(3, 1, 1, 1));
  EXPECT_EQ(leader->log().committed(), 1u);
  const Ready ready = drain(*leader).ready;
  ASSERT_EQ(ready.committed_entries.size(), 1u);
  EXPECT_EQ(ready.committed_entries[0].index(), 1u);
}

// The leader's own copy counts only once it is durable (dissertation
// §10.2.1): it may replicate in parallel with its disk write, but counts
// itself in the majority only after the write.
TEST(RaftPaper, LeaderCountsItselfTowardsMajorityOnlyAfterPersisting) {
  // A single-node cluster: the leader is the whole majority, so the only
  // thing its no-op waits for is its own disk write.
  auto single = make_core(1, {1});
  single->campaign();
  ASSERT_EQ(single->role(), Role::kLeader);
  Ready first = single->ready();
  ASSERT_EQ(first.entries.size(), 1u);
  EXPECT_TRUE(first.committed_entries.empty()) << "committed before it was durable";
  single->advance(first);
  EXPECT_EQ(single->log().committed(), 1u);
  EXPECT_EQ(drain(*single).ready.committed_entries.size(), 1u);

  // Three nodes: replication is released before the leader's own write, and
  // one follower's acknowledgement plus the durable local copy commit it.
  auto leader = make_core(1, kThree);
  leader->campaign();
  drain_messages(*leader);
  leader->step(vote_response(2, 1, 1, true));
  const Ready ready = leader->ready();
  ASSERT_EQ(ready.entries.size(), 1u);
  EXPECT_EQ(ready.messages.size(), 2u) << "AppendEntries may leave before the leader's write";
  leader->advance(ready);
  leader->step(append_response(2, 1, 1, 1));
  EXPECT_EQ(leader->log().committed(), 1u);
}

// "When sending an AppendEntries RPC, the leader includes the index and term
// of the entry in its log that immediately precedes the new entries. If the
// follower does not find an entry in its log with the same index and term,
// then it refuses the new entries." -- §5.3
// AppendEntries receiver rule 2: "Reply false if log doesn't contain an entry
// at prevLogIndex whose term matches prevLogTerm".
TEST(RaftPaper, FollowerRejectsAppendEntriesWhoseConsistencyCheckFails) {
  struct Case {
    Index prev_index;
    Term prev_term;
    bool success;
  };
  // The follower's log is [1, 2, 2] at term 2.
  const std::vector<Case> cases = {
      {0, 0, true}, {2, 2, true}, {3, 2, true}, {3, 3, false}, {4, 2, false}, {1, 2, false},
  };
  for (const Case& c : cases) {
    auto core = make_core(1, kThree, restored_at(2, {1, 2, 2}));
    core->step(append_entries(2, 1, 2, c.prev_index, c.prev_term, {}, 0));
    const auto replies = drain_messages(*core);
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_EQ(replies[0].append_entries_response().success(), c.success)
        << "prev (" << c.prev_index << ", " << c.prev_term << ")";
  }
}

// AppendEntries receiver rule 3: "If an existing entry conflicts with a new
// one (same index but different terms), delete the existing entry and all
// that follow it." Rule 4: "Append any new entries not already in the log."
TEST(RaftPaper, FollowerReplacesConflictingEntriesAndAppendsNewOnes) {
  struct Case {
    Index prev_index;
    Term prev_term;
    std::vector<pb::Entry> entries;
    std::vector<Term> expected;
  };
  // The follower's log is [1, 2, 2].
  const std::vector<Case> cases = {
      {0, 0, {entry(1, 3)}, {3}},
      {1, 1, {entry(2, 3), entry(3, 3)}, {1, 3, 3}},
      {2, 2, {entry(3, 2), entry(4, 2)}, {1, 2, 2, 2}},
      {3, 2, {entry(4, 3)}, {1, 2, 2, 3}},
      {1, 1, {entry(2, 2)}, {1, 2, 2}},  // already present: nothing is truncated
  };
  for (const Case& c : cases) {
    auto core = make_core(1, kThree, restored_at(2, {1, 2, 2}));
    core->step(append_entries(2, 1, 3, c.prev_index, c.prev_term, c.entries, 0));
    EXPECT_EQ(log_terms(*core), c.expected);
    const Ready ready = drain(*core).ready;
    EXPECT_TRUE(ready.messages.empty());
    ASSERT_EQ(ready.messages_after_persist.size(), 1u) << "acknowledged only after persisting";
    EXPECT_TRUE(ready.messages_after_persist[0].append_entries_response().success());
  }
}

// AppendEntries receiver rule 5: "If leaderCommit > commitIndex, set
// commitIndex = min(leaderCommit, index of last new entry)".
// Figure 2, rules for all servers: "If commitIndex > lastApplied: increment
// lastApplied, apply log[lastApplied] to state machine"; and §5.3: "Once a
// follower learns that a log entry is committed, it applies the entry to its
// local state machine (in log order)."
TEST(RaftPaper, FollowerCommitsUpToLeaderCommitAndAppliesInOrder) {
  auto core = make_core(1, kThree, restored_at(1, {1, 1, 1}));
  core->step(append_entries(2, 1, 1, 1, 1, {}, 3));
  EXPECT_EQ(core->log().committed(), 1u) << "only the entries this message vouches for";
  core->step(append_entries(2, 1, 1, 3, 1, {entry(4, 1)}, 2));
  EXPECT_EQ(core->log().committed(), 2u);
  core->step(append_entries(2, 1, 1, 4, 1, {}, 10));
  EXPECT_EQ(core->log().committed(), 4u);
  const Ready ready = drain(*core).ready;
  ASSERT_EQ(ready.committed_entries.size(), 4u);
  for (Index i = 0; i < 4; ++i) EXPECT_EQ(ready.committed_entries[i].index(), i + 1);
}

// "After a rejection, the leader decrements nextIndex and retries the
// AppendEntries RPC. Eventually nextIndex will reach a point where the
// leader and follower logs match." -- §5.3, with the optimization the
// section describes: "the follower can include the term of the conflicting
// entry and the first index it stores for that term."
// Figure 2: "If AppendEntries fails because of log inconsistency: decrement
// nextIndex and retry"; "If successful: update nextIndex and matchIndex".
TEST(RaftPaper, LeaderBringsEveryFigure7FollowerLogInLineWithItsOwn) {
  // The leader's and followers' logs of Figure 7 (terms by index).
  const std::vector<Term> leader_log = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
  const std::vector<std::vector<Term>> follower_logs = {
      {1, 1, 1, 4, 4, 5, 5, 6, 6},           // (a)
      {1, 1, 1, 4},                          // (b)
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},     // (c)
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7},  // (d)
      {1, 1, 1, 4, 4, 4, 4},                 // (e)
      {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},     // (f)
  };
  for (const auto& follower_log : follower_logs) {
    // Node 3 holds the leader's log and votes for it: some followers, like
    // (c) and (d), have logs that would rightly refuse node 1 their vote.
    CoreNetwork network(3);
    network.replace(1, make_core(1, kThree, restored_at(8, leader_log)));
    network.replace(2, make_core(2, kThree, restored_at(7, follower_log)));
    network.replace(3, make_core(3, kThree, restored_at(8, leader_log)));
    network.elect(1);
    ASSERT_EQ(network.node(1).role(), Role::kLeader);
    std::vector<Term> expected = leader_log;
    expected.push_back(9);  // the new leader's no-op
    EXPECT_EQ(log_terms(network.node(2)), expected);
    EXPECT_EQ(network.node(1).followers().at(2).match_index, 11u);
    EXPECT_EQ(network.node(1).followers().at(2).next_index, 12u);
    EXPECT_EQ(network.node(2).log().committed(), 11u);
  }
}

// "If a follower's log is inconsistent with the leader's ... the leader
// handles inconsistencies by forcing the followers' logs to duplicate its
// own" and "a leader never overwrites or deletes entries in its own log"
// (Leader Append-Only, Figure 3).
TEST(RaftPaper, LeaderNeverOverwritesItsOwnLog) {
  auto leader = make_leader(kThree, restored_at(3, {1, 2, 3}));
  const std::vector<Term> before = log_terms(*leader);
  leader->step(append_rejection(2, 1, 4, 3, 2, 2));
  leader->step(append_rejection(3, 1, 4, 3, 1, 0));
  leader->step(append_response(2, 1, 4, 1));
  EXPECT_EQ(log_terms(*leader), before);
}

// "Raft never commits log entries from previous terms by counting replicas.
// Only log entries from the leader's current term are committed by counting
// replicas; once an entry from the current term has been committed in this
// way, then all prior entries are committed indirectly." -- §5.4.2 (Figure 8)
TEST(RaftPaper, LeaderCommitsEarlierTermEntriesOnlyThroughACurrentTermEntry) {
  // Figure 8 (c): S1 leads term 4 holding (2, 2) from term 2 at index 2.
  auto leader = make_leader(kFive, restored_at(3, {1, 2}));
  ASSERT_EQ(leader->term(), 4u);
  ASSERT_EQ(leader->log().last_index(), 3u);  // [1, 2, 4(no-op)]
  // Index 2 (term 2) reaches a majority, but index 3 does not yet.
  leader->step(append_response(2, 1, 4, 2));
  leader->step(append_response(3, 1, 4, 2));
  EXPECT_EQ(leader->log().committed(), 0u);
  // Once the term-4 entry is on a majority, it commits, and index 2 with it.
  leader->step(append_response(2, 1, 4, 3));
  leader->step(append_response(3, 1, 4, 3));
  EXPECT_EQ(leader->log().committed(), 3u);
}

// "If a leader crashes, ... the new leader ... commits all preceding entries
// in the leader's log, including entries created by previous leaders." --
// §5.3, shown end to end: entries of an old term held by a majority commit
// as soon as the new leader's no-op does.
TEST(RaftPaper, NewLeaderCommitsEntriesOfPreviousLeaders) {
  CoreNetwork network(3);
  for (NodeId id : {1, 2, 3}) network.replace(id, make_core(id, kThree, restored_at(2, {1, 2})));
  network.elect(3);
  ASSERT_EQ(network.node(3).role(), Role::kLeader);
  for (NodeId id : {1, 2, 3}) {
    EXPECT_EQ(network.node(id).log().committed(), 3u);
    EXPECT_EQ(network.applied(id).size(), 3u);
  }
}

}  // namespace
}  // namespace raft
