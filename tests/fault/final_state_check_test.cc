// The fault harness's durability check (final_state_check.h) on histories
// made by hand: what it must call lost, and what it must let pass.

#include "tests/fault/final_state_check.h"

#include <gtest/gtest.h>

namespace raftkv::fault {
namespace {

using checker::History;
using checker::Operation;
using checker::OpKind;
using checker::Outcome;

Operation write(std::uint64_t id, std::int64_t invoke, std::int64_t complete, const std::string& value,
                Outcome outcome = Outcome::kOk) {
  Operation operation;
  operation.id = id;
  operation.kind = OpKind::kWrite;
  operation.key = "k";
  operation.value = value;
  operation.invoke = invoke;
  operation.complete = complete;
  operation.outcome = outcome;
  return operation;
}

TEST(FinalStateCheck, TheLastAcknowledgedWriteAtTheEndIsFine) {
  const History history = {write(1, 0, 10, "a"), write(2, 20, 30, "b")};
  EXPECT_TRUE(find_lost_writes(history, {{"k", "b"}}).empty());
}

TEST(FinalStateCheck, AnEarlierWriteAtTheEndMeansALaterAcknowledgedOneWasLost) {
  const History history = {write(1, 0, 10, "a"), write(2, 20, 30, "b")};
  const auto lost = find_lost_writes(history, {{"k", "a"}});
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].key, "k");
  EXPECT_NE(lost[0].what.find("acknowledged write #2"), std::string::npos) << lost[0].what;
}

TEST(FinalStateCheck, ConcurrentWritesMayEndEitherWay) {
  const History history = {write(1, 0, 30, "a"), write(2, 10, 20, "b")};
  EXPECT_TRUE(find_lost_writes(history, {{"k", "a"}}).empty());
  EXPECT_TRUE(find_lost_writes(history, {{"k", "b"}}).empty());
}

TEST(FinalStateCheck, AWriteOfUnknownOutcomeMayHaveLandedLast) {
  const History history = {write(1, 0, 10, "a", Outcome::kUnknown), write(2, 20, 30, "b")};
  EXPECT_TRUE(find_lost_writes(history, {{"k", "a"}}).empty());
}

TEST(FinalStateCheck, AnAbsentKeyAfterAnAcknowledgedWriteIsLoss) {
  const History history = {write(1, 0, 10, "a")};
  const auto lost = find_lost_writes(history, {{"k", std::nullopt}});
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_NE(lost[0].what.find("absent"), std::string::npos) << lost[0].what;
  EXPECT_TRUE(find_lost_writes({write(1, 0, 10, "a", Outcome::kFailed)}, {{"k", std::nullopt}}).empty())
      << "a write that certainly failed may be missing";
}

TEST(FinalStateCheck, AValueNobodyWroteIsCorruption) {
  const auto lost = find_lost_writes({write(1, 0, 10, "a")}, {{"k", "zzz"}});
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_NE(lost[0].what.find("nobody wrote"), std::string::npos) << lost[0].what;
}

TEST(FinalStateCheck, ACompareAndSwapCountsOnlyWhenItSwapped) {
  Operation lost_compare = write(2, 20, 30, "b");
  lost_compare.kind = OpKind::kCas;
  lost_compare.expected = "x";
  lost_compare.swapped = false;
  EXPECT_TRUE(find_lost_writes({write(1, 0, 10, "a"), lost_compare}, {{"k", "a"}}).empty());
  Operation swapped = lost_compare;
  swapped.expected = "a";
  swapped.swapped = true;
  EXPECT_EQ(find_lost_writes({write(1, 0, 10, "a"), swapped}, {{"k", "a"}}).size(), 1u);
}

}  // namespace
}  // namespace raftkv::fault
