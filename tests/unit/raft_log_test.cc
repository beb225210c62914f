#include "raft/raft_log.h"

#include <gtest/gtest.h>

#include "raft/quorum.h"
#include "tests/unit/core_test_support.h"

namespace raft {
namespace {

using testing::entries_with_terms;
using testing::entry;

TEST(RaftLog, TracksTermsAndUpToDateness) {
  RaftLog log(0, 0, entries_with_terms({1, 1, 2}), 0, 0);
  EXPECT_EQ(log.last_index(), 3u);
  EXPECT_EQ(log.last_term(), 2u);
  EXPECT_EQ(log.term_at(0), 0u);
  EXPECT_EQ(log.term_at(2), 1u);
  EXPECT_EQ(log.term_at(4), std::nullopt);
  EXPECT_TRUE(log.is_up_to_date(3, 2));
  EXPECT_FALSE(log.is_up_to_date(2, 2));
  EXPECT_TRUE(log.is_up_to_date(1, 3));
}

TEST(RaftLog, TruncatingBelowTheStableIndexRewindsIt) {
  RaftLog log(0, 0, entries_with_terms({1, 1, 1}), 0, 0);
  EXPECT_EQ(log.stable_index(), 3u);
  std::vector<pb::Entry> incoming = {entry(2, 2)};
  EXPECT_EQ(log.append_after(1, incoming), 2u);
  EXPECT_EQ(log.last_index(), 2u);
  EXPECT_EQ(log.stable_index(), 1u);
  ASSERT_EQ(log.unstable_entries().size(), 1u);
  EXPECT_EQ(log.unstable_entries()[0].term(), 2u);
}

TEST(RaftLog, SliceAlwaysReturnsOneEntryEvenIfLargerThanTheByteBound) {
  RaftLog log;
  log.append(entry(0, 1, std::string(100, 'x')));
  log.append(entry(0, 1, "y"));
  EXPECT_EQ(log.slice(1, 10, 10).size(), 1u);
  EXPECT_EQ(log.slice(1, 10, 1000).size(), 2u);
  EXPECT_EQ(log.slice(3, 10, 1000).size(), 0u);
}

TEST(RaftLog, TermRunsForConflictHints) {
  RaftLog log(0, 0, entries_with_terms({1, 2, 2, 2, 4}), 0, 0);
  EXPECT_EQ(log.first_index_of_term_run(4), 2u);
  EXPECT_EQ(log.last_index_of_term(2), 4u);
  EXPECT_EQ(log.last_index_of_term(3), std::nullopt);
}

TEST(RaftLog, RejectsARestoredLogWithAGap) {
  std::vector<pb::Entry> entries = {entry(1, 1), entry(3, 1)};
  EXPECT_THROW(RaftLog(0, 0, entries, 0, 0), std::invalid_argument);
}

TEST(Quorum, MajorityMatchIndexIsTheHighestIndexAMajorityHolds) {
  EXPECT_EQ(majority_match_index({5}), 5u);
  EXPECT_EQ(majority_match_index({5, 1, 3}), 3u);
  EXPECT_EQ(majority_match_index({9, 9, 1, 1}), 1u);
  EXPECT_EQ(majority_match_index({7, 2, 9, 4, 4}), 4u);
}

TEST(Quorum, VoteTallyDecidesAsSoonAsTheOutcomeIsCertain) {
  EXPECT_EQ(tally_votes(3, 0, 5), VoteOutcome::kWon);
  EXPECT_EQ(tally_votes(2, 2, 5), VoteOutcome::kPending);
  EXPECT_EQ(tally_votes(1, 3, 5), VoteOutcome::kLost);
  EXPECT_EQ(tally_votes(2, 2, 4), VoteOutcome::kLost);
}

}  // namespace
}  // namespace raft
