// The known-bad control's judge (violation.h): a run counts as proof only
// when the checker proved a stale read and nothing else went wrong.

#include "tests/fault/violation.h"

#include <gtest/gtest.h>

namespace raftkv::fault {
namespace {

using checker::KeyVerdict;
using checker::Operation;
using checker::OpKind;
using checker::Verdict;

KeyVerdict violated_at(OpKind kind) {
  KeyVerdict key;
  key.key = "k";
  key.linearizable = false;
  Operation culprit;
  culprit.kind = kind;
  key.culprit = culprit;
  return key;
}

Verdict verdict_of(std::vector<KeyVerdict> keys) {
  Verdict verdict;
  verdict.keys = std::move(keys);
  for (const KeyVerdict& key : verdict.keys) {
    verdict.linearizable = verdict.linearizable && key.linearizable;
    verdict.complete = verdict.complete && !key.gave_up;
  }
  return verdict;
}

TEST(KnownBadControl, AStaleReadProvenAndNothingElseIsTheProof) {
  const Verdict verdict = verdict_of({KeyVerdict{}, violated_at(OpKind::kRead)});
  EXPECT_EQ(stale_read_proof_problem({{Check::kLinearizable, "key k is not linearizable"}}, verdict), "");
}

TEST(KnownBadControl, AClusterThatNeverStartedIsNoProof) {
  const std::string problem = stale_read_proof_problem(
      {{Check::kStart, "the new cluster acknowledged no write within 30 s of starting"}}, verdict_of({}));
  EXPECT_NE(problem.find("another reason: the new cluster acknowledged no write"), std::string::npos)
      << problem;
}

TEST(KnownBadControl, ACheckerThatGaveUpIsNoProofEvenBesideAStaleRead) {
  KeyVerdict gave_up;
  gave_up.key = "g";
  gave_up.linearizable = false;
  gave_up.gave_up = true;
  const Verdict verdict = verdict_of({gave_up, violated_at(OpKind::kRead)});
  const std::string problem =
      stale_read_proof_problem({{Check::kCheckerComplete, "the checker gave up on key g"},
                                {Check::kLinearizable, "key k is not linearizable"}},
                               verdict);
  EXPECT_NE(problem.find("the checker gave up"), std::string::npos) << problem;
}

TEST(KnownBadControl, AViolationAtAWriteIsNoStaleRead) {
  const Verdict verdict = verdict_of({violated_at(OpKind::kWrite), violated_at(OpKind::kCas)});
  EXPECT_EQ(stale_read_proof_problem({{Check::kLinearizable, "key k is not linearizable"}}, verdict),
            "the checker proved no stale read (no key's history fails at a read)");
}

TEST(KnownBadControl, ARunWithoutViolationsProvesNothing) {
  EXPECT_NE(stale_read_proof_problem({}, verdict_of({KeyVerdict{}})), "");
}

TEST(KnownBadControl, ALostWriteBesideAStaleReadIsAFailureOfItsOwn) {
  const Verdict verdict = verdict_of({violated_at(OpKind::kRead)});
  const std::string problem = stale_read_proof_problem(
      {{Check::kLinearizable, "key k is not linearizable"}, {Check::kLostWrite, "write #7 of k is lost"}},
      verdict);
  EXPECT_NE(problem.find("write #7 of k is lost"), std::string::npos) << problem;
}

}  // namespace
}  // namespace raftkv::fault
