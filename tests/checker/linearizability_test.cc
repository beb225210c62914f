// The linearizability checker on histories whose answer is known: good ones
// (sequential, concurrent, with operations of unknown outcome, and
// thousands of operations generated from a real register) pass; bad ones --
// a stale read, a lost write, a read of a value never written, a CAS applied
// twice, a read that goes back in time, a failed write that shows up -- fail
// with the offending operation named.

#include "tests/checker/linearizability.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "tests/checker/brute_force.h"

namespace raftkv::checker {
namespace {

class Builder {
 public:
  Builder& write(std::uint64_t client, const std::string& key, const std::string& value, std::int64_t invoke,
                 std::int64_t complete, Outcome outcome = Outcome::kOk) {
    Operation& op = add(client, OpKind::kWrite, key, invoke, complete, outcome);
    op.value = value;
    return *this;
  }
  Builder& read(std::uint64_t client, const std::string& key, std::optional<std::string> observed,
                std::int64_t invoke, std::int64_t complete, Outcome outcome = Outcome::kOk) {
    add(client, OpKind::kRead, key, invoke, complete, outcome).observed = std::move(observed);
    return *this;
  }
  Builder& cas(std::uint64_t client, const std::string& key, std::optional<std::string> expected,
               const std::string& value, std::int64_t invoke, std::int64_t complete, bool swapped,
               Outcome outcome = Outcome::kOk) {
    Operation& op = add(client, OpKind::kCas, key, invoke, complete, outcome);
    op.expected = std::move(expected);
    op.value = value;
    op.swapped = swapped;
    return *this;
  }
  const History& history() const { return history_; }
  std::uint64_t last_id() const { return history_.back().id; }

 private:
  Operation& add(std::uint64_t client, OpKind kind, const std::string& key, std::int64_t invoke,
                 std::int64_t complete, Outcome outcome) {
    Operation& op = history_.emplace_back();
    op.id = history_.size();
    op.client = client;
    op.kind = kind;
    op.key = key;
    op.invoke = invoke;
    op.complete = complete;
    op.outcome = outcome;
    return op;
  }
  History history_;
};

// Expects a violation on `key`, from the search and (for keys without CAS)
// from the zones, naming one of `culprits` (the search names the first
// operation it cannot place; the zones may name the other side).
void expect_violation(const History& history, const std::string& key, std::set<std::uint64_t> culprits) {
  for (const bool zones : {false, true}) {
    CheckOptions options;
    options.use_zones = zones;
    const Verdict verdict = check_linearizable(history, options);
    ASSERT_FALSE(verdict.linearizable) << (zones ? "zones" : "search");
    bool found = false;
    for (const KeyVerdict& k : verdict.keys) {
      if (k.key != key) continue;
      found = true;
      ASSERT_FALSE(k.linearizable);
      ASSERT_TRUE(k.culprit.has_value());
      EXPECT_TRUE(culprits.contains(k.culprit->id)) << (zones ? "zones" : "search") << "\n"
                                                    << verdict.explain();
      EXPECT_NE(verdict.explain().find("#" + std::to_string(k.culprit->id) + " "), std::string::npos)
          << verdict.explain();
    }
    EXPECT_TRUE(found);
  }
}
void expect_violation(const History& history, const std::string& key, std::uint64_t culprit) {
  expect_violation(history, key, std::set<std::uint64_t>{culprit});
}

TEST(Linearizability, ASequentialHistoryIsLinearizable) {
  Builder b;
  b.read(1, "k", std::nullopt, 0, 1).write(1, "k", "a", 2, 3).read(2, "k", "a", 4, 5);
  b.cas(1, "k", "a", "b", 6, 7, true).cas(2, "k", "a", "c", 8, 9, false).read(3, "k", "b", 10, 11);
  const Verdict verdict = check_linearizable(b.history());
  EXPECT_TRUE(verdict.linearizable) << verdict.explain();
  EXPECT_TRUE(verdict.complete);
}

TEST(Linearizability, ReadsConcurrentWithAWriteMaySeeEitherValueButNotGoBack) {
  Builder b;
  b.write(1, "k", "a", 0, 1).write(1, "k", "b", 10, 20);
  b.read(2, "k", "a", 11, 12).read(3, "k", "b", 13, 14).read(2, "k", "b", 15, 16);
  EXPECT_TRUE(check_linearizable(b.history()).linearizable);
}

TEST(Linearizability, AWriteOfUnknownOutcomeMayTakeEffectLongAfterItsCallerGaveUp) {
  Builder b;
  b.write(1, "k", "a", 0, 1).write(2, "k", "late", 2, 3, Outcome::kUnknown);
  b.read(3, "k", "a", 50, 51).read(3, "k", "a", 60, 61).read(3, "k", "late", 90, 91);
  EXPECT_TRUE(check_linearizable(b.history()).linearizable);
}

TEST(Linearizability, AWriteOfUnknownOutcomeMayNeverTakeEffect) {
  Builder b;
  b.write(1, "k", "a", 0, 1).write(2, "k", "lost", 2, 3, Outcome::kUnknown).read(3, "k", "a", 90, 91);
  EXPECT_TRUE(check_linearizable(b.history()).linearizable);
}

TEST(Linearizability, AFailedWriteThatShowsUpIsAViolation) {
  Builder b;
  b.write(1, "k", "a", 0, 1).write(2, "k", "refused", 2, 3, Outcome::kFailed).read(3, "k", "refused", 4, 5);
  expect_violation(b.history(), "k", b.last_id());
}

TEST(Linearizability, AStaleReadIsAViolation) {
  Builder b;
  b.write(1, "k", "a", 0, 1).write(1, "k", "b", 2, 3).read(2, "k", "a", 4, 5);
  expect_violation(b.history(), "k", {2, 3});  // the read, or the write it missed
}

TEST(Linearizability, ALostWriteIsAViolation) {
  Builder b;
  b.write(1, "k", "a", 0, 1).read(2, "k", std::nullopt, 2, 3);
  expect_violation(b.history(), "k", {1, 2});
}

TEST(Linearizability, AReadOfAValueNeverWrittenIsAViolation) {
  Builder b;
  b.write(1, "k", "a", 0, 10).read(2, "k", "zzz", 2, 3);
  expect_violation(b.history(), "k", b.last_id());
}

TEST(Linearizability, ACompareAndSwapAppliedTwiceIsAViolation) {
  Builder b;
  b.write(1, "lock", "free", 0, 1).cas(1, "lock", "free", "mine", 2, 3, true);
  b.cas(2, "lock", "free", "yours", 4, 5, true);
  expect_violation(b.history(), "lock", b.last_id());
}

TEST(Linearizability, AReadThatGoesBackInTimeIsAViolation) {
  Builder b;
  b.write(1, "k", "old", 0, 1).write(2, "k", "new", 2, 10);
  b.read(3, "k", "new", 3, 4).read(3, "k", "old", 5, 6);
  expect_violation(b.history(), "k", {2, 3, 4});
}

TEST(Linearizability, AnAcknowledgedWriteNobodyReadStillCounts) {
  Builder b;
  b.write(1, "k", "a", 0, 1).write(1, "k", "never read", 2, 3).read(2, "k", "a", 4, 5);
  expect_violation(b.history(), "k", {2, 3});
}

TEST(Linearizability, WritesNobodyReadMayBeOverwrittenAtAnyTime) {
  Builder b;
  b.write(1, "k", "a", 0, 1);
  for (int i = 0; i < 200; ++i)
    b.write(static_cast<std::uint64_t>(i % 7), "k", "x" + std::to_string(i), 2 + i, 500);
  b.write(1, "k", "last", 501, 502).read(2, "k", "last", 503, 504);
  const Verdict verdict = check_linearizable(b.history());
  EXPECT_TRUE(verdict.linearizable) << verdict.explain();
  EXPECT_LT(verdict.steps, 100'000u) << "two hundred overlapping unread writes must not multiply the search";
}

TEST(Linearizability, AnUnknownWriteNobodyReadCanExplainAFailedCompare) {
  Builder b;
  b.write(1, "k", "a", 0, 1).write(2, "k", "timed out", 2, 3, Outcome::kUnknown);
  b.cas(3, "k", "a", "x", 4, 5, /*swapped=*/false).write(1, "k", "c", 6, 7).read(2, "k", "c", 8, 9);
  const Verdict verdict = check_linearizable(b.history());
  EXPECT_TRUE(verdict.linearizable) << verdict.explain();
}

TEST(Linearizability, KeysAreIndependentAndOnlyTheBadOneIsNamed) {
  Builder b;
  b.write(1, "good", "a", 0, 1).read(2, "good", "a", 2, 3);
  b.write(1, "bad", "a", 0, 1).write(1, "bad", "b", 2, 3).read(2, "bad", "a", 4, 5);
  const Verdict verdict = check_linearizable(b.history());
  ASSERT_EQ(verdict.keys.size(), 2u);
  for (const KeyVerdict& key : verdict.keys) EXPECT_EQ(key.linearizable, key.key == "good");
}

// Thousands of operations from a real register: each takes effect at an
// instant inside its interval, so the history is linearizable by
// construction, with heavy overlap and one outcome in twenty unknown.
History generated_history(std::uint32_t seed) {
  std::mt19937 random(seed);
  std::map<std::string, std::optional<std::string>> registers;
  struct Planned {
    Operation op;
    std::int64_t at;
  };
  std::vector<Planned> planned;
  for (int i = 0; i < 2000; ++i) {
    Operation op;
    op.id = static_cast<std::uint64_t>(i) + 1;
    op.client = random() % 8;
    op.key = "k" + std::to_string(random() % 4);
    op.invoke = i * 10;
    op.complete = op.invoke + 1 + random() % 60;  // overlaps with up to six others
    const std::int64_t at = op.invoke + static_cast<std::int64_t>(random() % (op.complete - op.invoke));
    const int kind = static_cast<int>(random() % 3);
    op.kind = kind == 0 ? OpKind::kRead : kind == 1 ? OpKind::kWrite : OpKind::kCas;
    op.value = "v" + std::to_string(i);
    op.outcome = random() % 20 == 0 ? Outcome::kUnknown : Outcome::kOk;
    planned.push_back({op, at * 10000 + i});  // distinct instants
  }
  std::vector<Planned*> by_time;
  for (Planned& p : planned) by_time.push_back(&p);
  std::sort(by_time.begin(), by_time.end(), [](const Planned* a, const Planned* b) { return a->at < b->at; });
  // As clients do it: a CAS expects what the last read of its key saw.
  std::map<std::string, std::optional<std::string>> last_read;
  for (Planned* p : by_time) {
    Operation& op = p->op;
    std::optional<std::string>& value = registers[op.key];
    if (op.kind == OpKind::kRead) op.observed = last_read[op.key] = value;
    if (op.kind == OpKind::kCas) op.expected = last_read[op.key];
    if (op.kind == OpKind::kWrite) value = op.value;
    if (op.kind == OpKind::kCas) {
      op.swapped = value == op.expected;
      if (op.swapped) value = op.value;
    }
  }
  History history;
  for (const Planned& p : planned) {
    Operation op = p.op;
    op.invoke *= 10000;
    op.complete *= 10000;
    history.push_back(op);
  }
  return history;
}

TEST(Linearizability, GeneratedLinearizableHistoriesPass) {
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    const Verdict verdict = check_linearizable(generated_history(seed));
    EXPECT_TRUE(verdict.linearizable) << "seed " << seed << "\n" << verdict.explain();
    EXPECT_TRUE(verdict.complete) << "seed " << seed;
    std::size_t checked = 0;
    for (const KeyVerdict& key : verdict.keys) checked += key.operations;
    EXPECT_GT(checked, 1800u) << "every operation but unknown reads is taken into account";
  }
}

TEST(Linearizability, GeneratedHistoriesWithOneCorruptedReadFailAtThatRead) {
  // Proving a violation searches everything before it: about 1.5 s a seed.
  for (std::uint32_t seed = 1; seed <= 5; ++seed) {
    History history = generated_history(seed);
    // A read near the end sees a value nobody wrote.
    auto read = std::find_if(history.rbegin(), history.rend(), [](const Operation& op) {
      return op.kind == OpKind::kRead && op.outcome == Outcome::kOk;
    });
    ASSERT_NE(read, history.rend());
    read->observed = "never written";
    expect_violation(history, read->key, read->id);
  }
}

// The zones against the search, on small random read/write histories made
// to be wrong often: both must agree on every one.
TEST(Linearizability, ZonesAndSearchAgreeOnRandomHistories) {
  int violations = 0;
  for (std::uint32_t seed = 1; seed <= 3000; ++seed) {
    std::mt19937 random(seed);
    Builder b;
    const int writes = 1 + static_cast<int>(random() % 4);
    std::vector<std::string> written;
    for (int i = 0; i < writes + 4; ++i) {
      const std::int64_t invoke = random() % 20;
      const std::int64_t complete = invoke + 1 + random() % 8;
      if (i < writes) {
        written.push_back("w" + std::to_string(i));
        b.write(random() % 3, "k", written.back(), invoke, complete);
      } else {
        const std::size_t pick = random() % (written.size() + 1);
        b.read(random() % 3, "k", pick == written.size() ? std::nullopt : std::optional(written[pick]),
               invoke, complete);
      }
    }
    CheckOptions search;
    search.use_zones = false;
    const Verdict by_search = check_linearizable(b.history(), search);
    const Verdict by_zones = check_linearizable(b.history());
    ASSERT_EQ(by_zones.linearizable, by_search.linearizable) << "seed " << seed << "\n"
                                                             << by_search.explain() << by_zones.explain();
    violations += by_search.linearizable ? 0 : 1;
  }
  EXPECT_GT(violations, 300) << "the generator makes bad histories too";
  EXPECT_LT(violations, 2700) << "and good ones";
}

// Small histories from a real register -- CAS, unknown and failed outcomes
// among them -- half of them then damaged in one place. On every one, the
// checker as used (reductions, blanks, zones) must agree with its own
// search of every operation as recorded (no reductions) and with the
// brute-force definition (brute_force.h), which shares no code with it.
History small_history(std::mt19937& random) {
  const int n = 3 + static_cast<int>(random() % 6);
  struct Planned {
    Operation op;
    std::int64_t at;      // when it takes effect
    bool happens = true;  // an unknown one may never
  };
  std::vector<Planned> planned;
  for (int i = 0; i < n; ++i) {
    Planned p;
    Operation& op = p.op;
    op.id = static_cast<std::uint64_t>(i) + 1;
    op.client = random() % 3;
    op.key = "k";
    op.invoke = random() % 20;
    op.complete = op.invoke + 1 + random() % 8;
    const int kind = static_cast<int>(random() % 3);
    op.kind = kind == 0 ? OpKind::kRead : kind == 1 ? OpKind::kWrite : OpKind::kCas;
    op.value = "v" + std::to_string(i);
    const int outcome = static_cast<int>(random() % 10);
    op.outcome = outcome < 7 ? Outcome::kOk : outcome < 9 ? Outcome::kUnknown : Outcome::kFailed;
    // Unknown: any later instant, or never; failed: never.
    p.happens = op.outcome == Outcome::kOk || (op.outcome == Outcome::kUnknown && random() % 2 == 0);
    p.at = op.invoke * 100 +
           static_cast<std::int64_t>(
               random() % ((op.outcome == Outcome::kUnknown ? 3000 : (op.complete - op.invoke) * 100)));
    planned.push_back(p);
  }
  std::vector<Planned*> by_time;
  for (Planned& p : planned) by_time.push_back(&p);
  std::sort(by_time.begin(), by_time.end(), [](const Planned* a, const Planned* b) { return a->at < b->at; });
  std::optional<std::string> value;
  std::vector<std::optional<std::string>> seen = {std::nullopt};
  for (Planned* p : by_time) {
    Operation& op = p->op;
    if (op.kind == OpKind::kCas) op.expected = seen[random() % seen.size()];
    if (!p->happens) continue;
    if (op.kind == OpKind::kRead) op.observed = value;
    if (op.kind == OpKind::kWrite) value = op.value;
    if (op.kind == OpKind::kCas) {
      op.swapped = value == op.expected;
      if (op.swapped) value = op.value;
    }
    seen.push_back(value);
  }
  History history;
  for (const Planned& p : planned) {
    history.push_back(p.op);
    if (p.op.outcome != Outcome::kOk) {  // the client never heard a result
      history.back().observed.reset();
      history.back().swapped = false;
    }
  }
  if (random() % 2 == 0) {  // one damage: a read or a CAS answered otherwise
    std::vector<Operation*> answered;
    for (Operation& op : history) {
      if (op.outcome == Outcome::kOk && op.kind != OpKind::kWrite) answered.push_back(&op);
    }
    if (!answered.empty()) {
      Operation& op = *answered[random() % answered.size()];
      if (op.kind == OpKind::kCas) {
        op.swapped = !op.swapped;
      } else {
        op.observed =
            random() % 4 == 0 ? std::optional<std::string>("never written") : seen[random() % seen.size()];
      }
    }
  }
  return history;
}

TEST(Linearizability, TheReductionsAgreeWithTheUnreducedSearchAndTheDefinition) {
  int violations = 0, with_unknown = 0, with_cas = 0;
  for (std::uint32_t seed = 1; seed <= 20000; ++seed) {
    std::mt19937 random(seed);
    const History history = small_history(random);
    CheckOptions unreduced;
    unreduced.reduce = false;
    const bool definition = BruteForceRegister(history).linearizable();
    const Verdict by_search = check_linearizable(history, unreduced);
    const Verdict as_used = check_linearizable(history);
    std::string shown;
    for (const Operation& op : history) shown += "  " + describe(op) + "\n";
    ASSERT_EQ(by_search.linearizable, definition) << "seed " << seed << ": the unreduced search\n" << shown;
    ASSERT_EQ(as_used.linearizable, definition) << "seed " << seed << ": the checker as used\n"
                                                << shown << as_used.explain();
    ASSERT_TRUE(as_used.complete && by_search.complete) << "seed " << seed;
    violations += definition ? 0 : 1;
    with_unknown += std::any_of(history.begin(), history.end(),
                                [](const Operation& op) { return op.outcome == Outcome::kUnknown; });
    with_cas += std::any_of(history.begin(), history.end(),
                            [](const Operation& op) { return op.kind == OpKind::kCas; });
  }
  EXPECT_GT(violations, 2000) << "the generator makes bad histories";
  EXPECT_LT(violations, 18000) << "and good ones";
  EXPECT_GT(with_unknown, 8000) << "many with unknown outcomes";
  EXPECT_GT(with_cas, 8000) << "and many with CAS";
  std::printf("%d histories of 3-8 operations: %d not linearizable, %d with unknown outcomes, %d with CAS\n",
              20000, violations, with_unknown, with_cas);
}

}  // namespace
}  // namespace raftkv::checker
