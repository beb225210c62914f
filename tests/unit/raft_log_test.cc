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

// Entries 1..n of `size`-byte payloads, all applied and stable.
RaftLog applied_log(int n, std::size_t size) {
  std::vector<pb::Entry> entries;
  for (int i = 1; i <= n; ++i)
    entries.push_back(entry(static_cast<Index>(i), 1, std::string(size, 'a' + i % 26)));
  return RaftLog(0, 0, std::move(entries), static_cast<Index>(n), static_cast<Index>(n));
}

TEST(RaftLog, PayloadsOfAppliedStableEntriesBeyondTheBudgetAreDroppedOldestFirst) {
  RaftLog log = applied_log(10, 100);
  EXPECT_EQ(log.payloads_from(), 1u);
  EXPECT_EQ(log.payload_bytes(), 1000u);
  log.limit_payload_bytes(350);
  EXPECT_EQ(log.payloads_from(), 8u) << "the newest three fit in 350 bytes";
  EXPECT_EQ(log.payload_bytes(), 300u);
  EXPECT_TRUE(log.at(7).data().empty());
  EXPECT_EQ(log.at(8).data(), std::string(100, 'a' + 8));
  EXPECT_EQ(log.term_at(3), 1u) << "index and term stay";
}

TEST(RaftLog, PayloadsNotYetAppliedOrNotYetStableStay) {
  RaftLog log = applied_log(2, 100);
  log.limit_payload_bytes(0);
  EXPECT_EQ(log.payloads_from(), 3u);
  log.append(entry(0, 1, std::string(100, 'u')));  // 3: not stable, not committed
  log.append(entry(0, 1, std::string(100, 'v')));  // 4
  EXPECT_EQ(log.payloads_from(), 3u);
  log.mark_stable(4);
  EXPECT_EQ(log.payloads_from(), 3u) << "stable but not applied";
  log.commit_to(4);
  EXPECT_EQ(log.entries_to_apply(1 << 20).size(), 2u);
  EXPECT_EQ(log.entries_to_apply(1 << 20)[0].data(), std::string(100, 'u'));
  log.mark_applied(3);
  EXPECT_EQ(log.payloads_from(), 4u);
  EXPECT_EQ(log.entries_to_apply(1 << 20)[0].data(), std::string(100, 'v'));
  EXPECT_EQ(log.payload_bytes(), 100u);
}

TEST(RaftLog, SliceGivesDroppedEntriesWithoutPayloadsButCountsTheirSize) {
  RaftLog log = applied_log(10, 100);
  log.limit_payload_bytes(200);  // 9 and 10 keep theirs
  const std::vector<pb::Entry> slice = log.slice(7, 10, 250);
  ASSERT_EQ(slice.size(), 2u) << "dropped payloads still count towards max_bytes";
  EXPECT_EQ(slice[0].index(), 7u);
  EXPECT_TRUE(slice[0].data().empty());
  EXPECT_TRUE(slice[1].data().empty());
  EXPECT_EQ(log.slice(9, 10, 1000)[0].data(), std::string(100, 'a' + 9));
}

TEST(RaftLog, CompactionAndSnapshotsKeepThePayloadAccounting) {
  RaftLog log = applied_log(10, 100);
  log.limit_payload_bytes(300);  // 8..10 keep theirs
  log.compact(5);                // only dropped payloads go
  EXPECT_EQ(log.payloads_from(), 8u);
  EXPECT_EQ(log.payload_bytes(), 300u);
  EXPECT_EQ(log.slice(6, 2, 150).size(), 1u) << "the sizes of 6 and 7 are still known";
  log.compact(9);  // past the dropped ones, into the kept ones
  EXPECT_EQ(log.payloads_from(), 10u);
  EXPECT_EQ(log.payload_bytes(), 100u);
  log.restore(20, 3);
  EXPECT_EQ(log.payloads_from(), 21u);
  EXPECT_EQ(log.payload_bytes(), 0u);
  log.append(entry(0, 3, std::string(50, 'z')));
  EXPECT_EQ(log.payload_bytes(), 50u);
}

TEST(RaftLog, TruncationTakesTheTruncatedPayloadsOffTheBudget) {
  RaftLog log = applied_log(2, 100);
  log.append(entry(0, 1, std::string(100, 'x')));
  log.append(entry(0, 1, std::string(100, 'y')));
  std::vector<pb::Entry> incoming = {entry(3, 2, std::string(10, 'n'))};
  EXPECT_EQ(log.append_after(2, incoming), 3u);
  EXPECT_EQ(log.payload_bytes(), 210u);
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
