// Log compaction and InstallSnapshot (§7 of the paper, Figure 13), driven by
// hand on single cores. Chunk bytes are the driver's business; here they are
// filler of the right length, and config.max_snapshot_chunk_bytes is 1 KiB.

#include <gtest/gtest.h>

#include "tests/unit/core_test_support.h"

namespace raft {
namespace {

using namespace raft::testing;

constexpr std::uint64_t kChunk = 1024;
constexpr std::uint64_t kSnapshotSize = 2500;  // chunks at 0, 1024 and 2048

CoreConfig snapshot_config(NodeId id) {
  CoreConfig config = test_config(id, {1, 2, 3});
  config.max_snapshot_chunk_bytes = kChunk;
  return config;
}

pb::SnapshotMetadata snapshot_at(Index index, Term term, std::uint64_t size = kSnapshotSize) {
  pb::SnapshotMetadata snapshot;
  snapshot.set_index(index);
  snapshot.set_term(term);
  snapshot.set_size(size);
  for (NodeId voter : {1, 2, 3}) snapshot.mutable_configuration()->add_voters()->set_id(voter);
  return snapshot;
}

pb::Message chunk(NodeId from, NodeId to, Term term, const pb::SnapshotMetadata& snapshot,
                  std::uint64_t offset) {
  pb::Message message;
  message.set_from(from);
  message.set_to(to);
  message.set_term(term);
  auto* install = message.mutable_install_snapshot();
  *install->mutable_snapshot() = snapshot;
  install->set_offset(offset);
  const std::uint64_t end = std::min(offset + kChunk, snapshot.size());
  install->set_data(std::string(end - offset, 'x'));
  install->set_done(end == snapshot.size());
  return message;
}

// A leader (node 1, term 2) whose log was compacted through index 10: it
// holds only the snapshot at 10 and its own no-op at 11.
std::unique_ptr<Core> compacted_leader() {
  RestoredState restored;
  restored.hard_state.set_term(1);
  restored.hard_state.set_commit(10);
  restored.snapshot = snapshot_at(10, 1);
  restored.log_base.set_index(10);
  restored.log_base.set_term(1);
  restored.applied = 10;
  return elected_leader(snapshot_config(1), std::move(restored));
}

// Drives the leader until node 2 (with an empty log) is in snapshot mode,
// returning the first chunk it sent.
pb::InstallSnapshot start_transfer(Core& leader) {
  // Node 2 rejects the leader's first AppendEntries: its log is empty.
  leader.step(append_rejection(2, 1, leader.term(), 10, 1, 0));
  for (const pb::Message& message : drain_messages(leader)) {
    if (message.to() == 2 && message.has_install_snapshot()) return message.install_snapshot();
  }
  ADD_FAILURE() << "no InstallSnapshot was sent";
  return {};
}

std::vector<pb::InstallSnapshotResponse> snapshot_responses(const std::vector<pb::Message>& messages) {
  std::vector<pb::InstallSnapshotResponse> responses;
  for (const pb::Message& message : messages) {
    if (message.has_install_snapshot_response()) responses.push_back(message.install_snapshot_response());
  }
  return responses;
}

// ------------------------------------------------------------ leader side --

TEST(Section7, LeaderSendsItsSnapshotWhenTheEntriesAFollowerNeedsWereCompacted) {
  auto leader = compacted_leader();
  const pb::InstallSnapshot first = start_transfer(*leader);
  EXPECT_EQ(first.snapshot().index(), 10u);
  EXPECT_EQ(first.snapshot().term(), 1u);
  EXPECT_EQ(first.offset(), 0u);
  EXPECT_FALSE(first.done());
  EXPECT_EQ(leader->followers().at(2).mode, ReplicationMode::kSnapshot);
}

TEST(Section7, ChunksFollowFromTheOffsetTheFollowerReportsOneAtATime) {
  auto leader = compacted_leader();
  start_transfer(*leader);
  // Nothing more goes out until the follower answers.
  leader->step(append_rejection(2, 1, leader->term(), 10, 1, 0));
  for (const pb::Message& message : drain_messages(*leader)) EXPECT_FALSE(message.has_install_snapshot());
  std::vector<std::uint64_t> offsets;
  std::vector<bool> done;
  for (std::uint64_t next : {kChunk, 2 * kChunk}) {
    leader->step(testing::install_snapshot_response(2, 1, leader->term(), 10, next));
    for (const pb::Message& message : drain_messages(*leader)) {
      if (!message.has_install_snapshot()) continue;
      offsets.push_back(message.install_snapshot().offset());
      done.push_back(message.install_snapshot().done());
    }
  }
  EXPECT_EQ(offsets, (std::vector<std::uint64_t>{kChunk, 2 * kChunk}));
  EXPECT_EQ(done, (std::vector<bool>{false, true}));
}

// Found by the simulation: every heartbeat resends the outstanding chunk,
// and both copies are answered. Following both answers would start a second
// stream of chunks, and each heartbeat another, until the links drown.
TEST(Section7, ASecondAnswerForTheChunkAlreadyOnItsWayStartsNoSecondStream) {
  auto leader = compacted_leader();
  start_transfer(*leader);
  leader->step(testing::install_snapshot_response(2, 1, leader->term(), 10, kChunk));
  std::size_t chunks = 0;
  for (const pb::Message& message : drain_messages(*leader)) chunks += message.has_install_snapshot() ? 1 : 0;
  EXPECT_EQ(chunks, 1u);
  // The answer to the duplicate of the first chunk asks for the same offset.
  leader->step(testing::install_snapshot_response(2, 1, leader->term(), 10, kChunk));
  for (const pb::Message& message : drain_messages(*leader)) EXPECT_FALSE(message.has_install_snapshot());
}

TEST(Section7, ALostChunkIsSentAgainAtTheNextHeartbeat) {
  auto leader = compacted_leader();
  start_transfer(*leader);
  leader->step(testing::install_snapshot_response(2, 1, leader->term(), 10, kChunk));
  drain_messages(*leader);  // the chunk at 1024 is lost on the way
  leader->tick();           // heartbeat_ticks is 1
  std::vector<std::uint64_t> resent;
  for (const pb::Message& message : drain_messages(*leader)) {
    if (message.to() == 2 && message.has_install_snapshot())
      resent.push_back(message.install_snapshot().offset());
  }
  EXPECT_EQ(resent, (std::vector<std::uint64_t>{kChunk}));
}

TEST(Section7, AFollowerThatHoldsTheSnapshotIsProbedFromJustAfterIt) {
  auto leader = compacted_leader();
  start_transfer(*leader);
  leader->step(testing::install_snapshot_response(2, 1, leader->term(), 10, kSnapshotSize, true));
  const FollowerProgress& progress = leader->followers().at(2);
  EXPECT_EQ(progress.match_index, 10u);
  EXPECT_EQ(progress.mode, ReplicationMode::kProbe);
  bool appended = false;
  for (const pb::Message& message : drain_messages(*leader)) {
    if (message.to() == 2 && message.has_append_entries()) {
      appended = true;
      EXPECT_EQ(message.append_entries().prev_log_index(), 10u);
      EXPECT_EQ(message.append_entries().prev_log_term(), 1u);
    }
  }
  EXPECT_TRUE(appended);
}

// Found by tests/fuzz/core_message_fuzzer: a "done" answer claiming a
// snapshot past the leader's log made the follower's match index pass the
// leader's last entry, which counted towards commitment and then tripped an
// assertion. No correct follower sends it; the leader ignores it.
TEST(Section7, AnAnswerClaimingASnapshotPastTheLeadersLogIsIgnored) {
  auto leader = testing::elected_leader(testing::test_config(1, {1, 2, 3}));
  drain(*leader);
  const Index last = leader->log().last_index();
  const Index committed = leader->log().committed();
  leader->step(testing::install_snapshot_response(2, 1, leader->term(), last + 3, 0, true));
  EXPECT_EQ(leader->followers().at(2).match_index, 0u);
  EXPECT_EQ(leader->log().committed(), committed) << "nothing committed on a claim nobody could make";
  drain(*leader);  // and nothing to send a snapshot it does not have
}

// Found by the simulation (seed 3017 once commit broadcasts were batched):
// a "done" answer that arrives after the leader stopped sending that
// follower the snapshot -- late, or repeated -- raised its match index past
// its next index, so the leader would have sent again what the follower
// provably holds.
TEST(Section7, ALateSnapshotAnswerMovesTheNextIndexPastWhatItProves) {
  auto leader = testing::elected_leader(testing::test_config(1, {1, 2, 3}));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(leader->propose("x").ok());
  drain(*leader);
  const Index last = leader->log().last_index();
  ASSERT_NE(leader->followers().at(2).mode, ReplicationMode::kSnapshot);
  leader->step(testing::install_snapshot_response(2, 1, leader->term(), last, 0, true));
  const FollowerProgress& progress = leader->followers().at(2);
  EXPECT_EQ(progress.match_index, last);
  EXPECT_EQ(progress.next_index, last + 1);
}

TEST(Section7, RejectionsStillInFlightDoNotRestartATransfer) {
  auto leader = compacted_leader();
  start_transfer(*leader);
  leader->step(testing::install_snapshot_response(2, 1, leader->term(), 10, kChunk));
  drain_messages(*leader);
  leader->step(append_rejection(2, 1, leader->term(), 10, 1, 0));  // answers an older heartbeat
  EXPECT_EQ(leader->followers().at(2).mode, ReplicationMode::kSnapshot);
  EXPECT_EQ(leader->followers().at(2).snapshot_offset, kChunk);
}

TEST(Section7, ANewerSnapshotRestartsATransferFromItsFirstByte) {
  RestoredState restored;
  restored.hard_state.set_term(1);
  restored.hard_state.set_commit(20);
  restored.snapshot = snapshot_at(10, 1);
  restored.log_base.set_index(10);
  restored.log_base.set_term(1);
  for (Index index = 11; index <= 20; ++index) restored.entries.push_back(entry(index, 1));
  restored.applied = 20;
  auto leader = elected_leader(snapshot_config(1), std::move(restored));
  leader->step(append_rejection(2, 1, leader->term(), 20, 1, 0));
  drain_messages(*leader);
  leader->step(testing::install_snapshot_response(2, 1, leader->term(), 10, kChunk));
  drain_messages(*leader);
  leader->compact(snapshot_at(20, 1, 3000), 20);
  leader->tick();
  std::vector<std::pair<Index, std::uint64_t>> sent;
  for (const pb::Message& message : drain_messages(*leader)) {
    if (message.to() == 2 && message.has_install_snapshot()) {
      sent.emplace_back(message.install_snapshot().snapshot().index(), message.install_snapshot().offset());
    }
  }
  EXPECT_EQ(sent, (std::vector<std::pair<Index, std::uint64_t>>{{20, 0}}));
}

// ---------------------------------------------------------- follower side --

TEST(Section7, TheFollowerAcknowledgesEachChunkOnlyAfterItWasWritten) {
  Core follower(snapshot_config(2));
  follower.step(chunk(1, 2, 2, snapshot_at(10, 1), 0));
  const Drained drained = drain(follower);
  ASSERT_EQ(drained.ready.snapshot_chunks.size(), 1u);
  EXPECT_EQ(drained.ready.snapshot_chunks[0].offset(), 0u);
  EXPECT_TRUE(drained.ready.messages.empty());
  const auto responses = snapshot_responses(drained.ready.messages_after_persist);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].next_offset(), kChunk);
  EXPECT_FALSE(responses[0].done());
}

TEST(Section7, AfterALostChunkTheFollowerAsksForTheOffsetItLacks) {
  Core follower(snapshot_config(2));
  follower.step(chunk(1, 2, 2, snapshot_at(10, 1), 0));
  drain(follower);
  follower.step(chunk(1, 2, 2, snapshot_at(10, 1), 2 * kChunk));  // 1024 was lost
  const Drained drained = drain(follower);
  EXPECT_TRUE(drained.ready.snapshot_chunks.empty());
  const auto responses = snapshot_responses(drained.all_messages());
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].next_offset(), kChunk);
}

TEST(Section7, AChunkOfAnUnknownSnapshotPastItsStartIsAnsweredWithOffsetZero) {
  Core follower(snapshot_config(2));  // e.g. it restarted mid-transfer
  follower.step(chunk(1, 2, 2, snapshot_at(10, 1), kChunk));
  const auto responses = snapshot_responses(drain_messages(follower));
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].next_offset(), 0u);
}

TEST(Section7, Rule7_AnIntactSnapshotReplacesTheLogOnceTheDriverHasCheckedIt) {
  RestoredState restored;
  restored.hard_state.set_term(1);
  restored.entries = entries_with_terms({1, 1, 1});  // conflicts with nothing committed
  Core follower(snapshot_config(2), std::move(restored));
  const pb::SnapshotMetadata snapshot = snapshot_at(10, 2);
  for (std::uint64_t offset : {std::uint64_t{0}, kChunk, 2 * kChunk}) {
    follower.step(chunk(1, 2, 2, snapshot, offset));
  }
  // The last chunk is not acknowledged, nor anything installed, until the
  // driver has checked the whole snapshot.
  Drained drained = drain(follower);
  EXPECT_EQ(drained.ready.snapshot_chunks.size(), 3u);
  EXPECT_FALSE(drained.ready.snapshot.has_value());
  for (const auto& response : snapshot_responses(drained.all_messages())) EXPECT_FALSE(response.done());
  EXPECT_EQ(follower.log().last_index(), 3u);

  follower.snapshot_received(10, true);
  drained = drain(follower);
  ASSERT_TRUE(drained.ready.snapshot.has_value());
  EXPECT_EQ(drained.ready.snapshot->index(), 10u);
  EXPECT_EQ(follower.log().base_index(), 10u);
  EXPECT_EQ(follower.log().last_index(), 10u);
  EXPECT_EQ(follower.log().committed(), 10u);
  EXPECT_EQ(follower.snapshot().index(), 10u);
  ASSERT_TRUE(drained.ready.hard_state.has_value());
  EXPECT_EQ(drained.ready.hard_state->commit(), 10u);
  const auto responses = snapshot_responses(drained.ready.messages_after_persist);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_TRUE(responses[0].done());
}

TEST(Section7, ADamagedSnapshotIsRequestedAgainFromItsFirstByte) {
  Core follower(snapshot_config(2));
  const pb::SnapshotMetadata snapshot = snapshot_at(10, 1);
  for (std::uint64_t offset : {std::uint64_t{0}, kChunk, 2 * kChunk}) {
    follower.step(chunk(1, 2, 2, snapshot, offset));
  }
  drain(follower);
  follower.snapshot_received(10, false);
  const Drained drained = drain(follower);
  EXPECT_FALSE(drained.ready.snapshot.has_value());
  EXPECT_EQ(follower.log().last_index(), 0u);
  const auto responses = snapshot_responses(drained.all_messages());
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].next_offset(), 0u);
  EXPECT_FALSE(responses[0].done());
}

TEST(Section7, Rule6_ALogHoldingTheSnapshotsLastEntryKeepsTheEntriesAfterIt) {
  // Figure 13, rule 6: "If existing log entry has same index and term as
  // snapshot's last included entry, retain log entries following it". The
  // entries after it may have been acknowledged to a leader; discarding
  // them would lose a vote towards their commitment.
  RestoredState restored;
  restored.hard_state.set_term(1);
  restored.hard_state.set_commit(5);
  restored.entries = entries_with_terms(std::vector<Term>(15, 1));
  Core follower(snapshot_config(2), std::move(restored));
  follower.step(chunk(1, 2, 1, snapshot_at(10, 1, 100), 0));
  const Drained drained = drain(follower);
  EXPECT_TRUE(drained.ready.snapshot_chunks.empty());
  EXPECT_FALSE(drained.ready.snapshot.has_value());
  EXPECT_EQ(follower.log().last_index(), 15u);
  EXPECT_EQ(follower.log().committed(), 10u);
  const auto responses = snapshot_responses(drained.all_messages());
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_TRUE(responses[0].done());
}

TEST(Section7, ASnapshotOfEntriesAlreadyCommittedIsNotInstalled) {
  RestoredState restored;
  restored.hard_state.set_term(1);
  restored.hard_state.set_commit(12);
  restored.entries = entries_with_terms(std::vector<Term>(12, 1));
  Core follower(snapshot_config(2), std::move(restored));
  follower.step(chunk(1, 2, 1, snapshot_at(10, 1, 100), 0));
  const Drained drained = drain(follower);
  EXPECT_TRUE(drained.ready.snapshot_chunks.empty());
  EXPECT_EQ(follower.log().last_index(), 12u);
  const auto responses = snapshot_responses(drained.all_messages());
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_TRUE(responses[0].done());
}

TEST(Section7, ChunksThatDoNotFitTheirSnapshotAreIgnored) {
  Core follower(snapshot_config(2));
  pb::Message beyond = chunk(1, 2, 2, snapshot_at(10, 1), 2 * kChunk);
  beyond.mutable_install_snapshot()->set_data(std::string(kChunk, 'x'));  // past the end
  follower.step(beyond);
  pb::Message future_term = chunk(1, 2, 2, snapshot_at(10, 3), 0);  // newer than its sender
  follower.step(future_term);
  const Drained drained = drain(follower);
  EXPECT_TRUE(drained.ready.snapshot_chunks.empty());
  EXPECT_TRUE(snapshot_responses(drained.all_messages()).empty());
}

// ----------------------------------------------------- compaction, restart --

TEST(Section7, CompactionStopsAtTheSnapshotAndAtWhatIsDurable) {
  RestoredState restored;
  restored.hard_state.set_term(1);
  restored.hard_state.set_commit(30);
  restored.entries = entries_with_terms(std::vector<Term>(30, 1));
  restored.applied = 30;
  Core core(snapshot_config(2), std::move(restored));
  core.compact(snapshot_at(20, 1), 25);  // through is capped at the snapshot
  EXPECT_EQ(core.log().base_index(), 20u);
  EXPECT_EQ(core.log().first_index(), 21u);
  EXPECT_EQ(core.log().term_at(20), 1u);
  EXPECT_FALSE(core.log().term_at(19).has_value());
  core.compact(snapshot_at(25, 1), 22);  // a margin: keeps 23..30
  EXPECT_EQ(core.log().base_index(), 22u);
  EXPECT_EQ(core.snapshot().index(), 25u);
}

TEST(Section7, AFollowerBehindTheCompactedPrefixIsToldWhatItAlreadyMatches) {
  // The leader still thinks node 2 needs index 5, which node 2 compacted:
  // everything there is committed, so node 2 answers with its commit index.
  RestoredState restored;
  restored.hard_state.set_term(2);
  restored.hard_state.set_commit(20);
  restored.snapshot = snapshot_at(20, 1);
  restored.log_base.set_index(20);
  restored.log_base.set_term(1);
  restored.applied = 20;
  Core follower(snapshot_config(2), std::move(restored));
  follower.step(append_entries(1, 2, 2, 5, 1, {entry(6, 1)}, 6));
  const std::vector<pb::Message> replies = drain_messages(follower);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].append_entries_response().success());
  EXPECT_EQ(replies[0].append_entries_response().match_index(), 20u);
}

TEST(Section7, ANodeRestartsFromItsSnapshotAndTheLogAfterIt) {
  RestoredState restored;
  restored.hard_state.set_term(3);
  restored.hard_state.set_commit(15);
  restored.snapshot = snapshot_at(10, 2);
  restored.log_base.set_index(5);
  restored.log_base.set_term(2);
  for (Index index = 6; index <= 15; ++index) restored.entries.push_back(entry(index, index <= 10 ? 2 : 3));
  restored.applied = 10;
  Core core(snapshot_config(2), std::move(restored));
  EXPECT_EQ(core.log().first_index(), 6u);
  EXPECT_EQ(core.log().last_index(), 15u);
  EXPECT_EQ(core.log().applied(), 10u);
  EXPECT_EQ(core.snapshot().index(), 10u);
  // Entries after the state machine's applied index are handed out again.
  const Drained drained = drain(core);
  ASSERT_EQ(drained.ready.committed_entries.size(), 5u);
  EXPECT_EQ(drained.ready.committed_entries.front().index(), 11u);
}

TEST(Section7, RestoredPiecesThatDoNotFitTogetherAreRefused) {
  RestoredState behind;  // the state machine is older than the snapshot
  behind.snapshot = snapshot_at(10, 1);
  behind.log_base.set_index(10);
  behind.log_base.set_term(1);
  behind.applied = 4;
  EXPECT_THROW(Core(snapshot_config(2), behind), std::invalid_argument);

  RestoredState over_compacted;  // the log was compacted past the snapshot
  over_compacted.snapshot = snapshot_at(10, 1);
  over_compacted.log_base.set_index(12);
  over_compacted.log_base.set_term(1);
  over_compacted.applied = 12;
  EXPECT_THROW(Core(snapshot_config(2), over_compacted), std::invalid_argument);
}

}  // namespace
}  // namespace raft
