#include "raft/log_payloads.h"

#include <gtest/gtest.h>

#include "raft/in_memory_storage.h"
#include "tests/unit/core_test_support.h"

namespace raft {
namespace {

using testing::entry;

// An AppendEntries as the core makes it: entries first..last, those before
// `payloads_from` without their payloads.
pb::Message append_of(Index first, Index last, Index payloads_from, Term term = 1) {
  pb::Message message;
  auto* append = message.mutable_append_entries();
  append->set_prev_log_index(first - 1);
  for (Index index = first; index <= last; ++index) {
    *append->add_entries() = entry(index, term, index < payloads_from ? "" : "mem" + std::to_string(index));
  }
  return message;
}

class FillDroppedPayloads : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(storage_.load().ok());
    std::vector<pb::Entry> stored;
    for (Index index = 1; index <= 20; ++index)
      stored.push_back(entry(index, 1, "disk" + std::to_string(index)));
    ASSERT_TRUE(storage_.save(nullptr, stored, true).ok());
  }
  InMemoryStorage storage_;
};

TEST_F(FillDroppedPayloads, FillsTheEntriesBeforeThePayloadsFromIndexFromStorage) {
  pb::Message message = append_of(5, 12, 10);
  Result<PayloadFill> filled = fill_dropped_payloads(message, 10, 0, storage_);
  ASSERT_TRUE(filled.ok()) << filled.error().to_string();
  EXPECT_EQ(filled.value(), PayloadFill::kReady);
  const auto& entries = message.append_entries().entries();
  ASSERT_EQ(entries.size(), 8);
  EXPECT_EQ(entries[0].data(), "disk5");
  EXPECT_EQ(entries[4].data(), "disk9");
  EXPECT_EQ(entries[5].data(), "mem10") << "what is in memory is not read again";
  EXPECT_EQ(entries[7].data(), "mem12");
}

TEST_F(FillDroppedPayloads, LeavesOtherMessagesAndCompleteAppendsAlone) {
  pb::Message heartbeat;
  heartbeat.mutable_append_entries()->set_prev_log_index(20);
  EXPECT_EQ(fill_dropped_payloads(heartbeat, 10, 0, storage_).value(), PayloadFill::kReady);
  pb::Message vote;
  vote.mutable_request_vote();
  EXPECT_EQ(fill_dropped_payloads(vote, 10, 0, storage_).value(), PayloadFill::kReady);
  pb::Message recent = append_of(12, 14, 10);
  EXPECT_EQ(fill_dropped_payloads(recent, 10, 0, storage_).value(), PayloadFill::kReady);
  EXPECT_EQ(recent.append_entries().entries(0).data(), "mem12");
}

TEST_F(FillDroppedPayloads, AMessageWhoseEntriesWereCompactedSinceIsToBeDropped) {
  pb::Message message = append_of(5, 8, 10);
  EXPECT_EQ(fill_dropped_payloads(message, 10, 6, storage_).value(), PayloadFill::kCompacted);
}

TEST_F(FillDroppedPayloads, StorageThatDisagreesWithTheCoreIsAnError) {
  pb::Message other_term = append_of(5, 8, 10, 2);
  Result<PayloadFill> filled = fill_dropped_payloads(other_term, 10, 0, storage_);
  ASSERT_FALSE(filled.ok());
  EXPECT_NE(filled.error().message.find("has term 1 on disk but 2 in memory"), std::string::npos)
      << filled.error().message;
  pb::Message beyond = append_of(19, 22, 23);
  EXPECT_FALSE(fill_dropped_payloads(beyond, 23, 0, storage_).ok()) << "21 and 22 were never stored";
}

}  // namespace
}  // namespace raft
