// Crash test of RocksDbStorage with real processes: a child saves (synced) a
// deterministic workload and reports each save once it returned; the test
// SIGKILLs it at a random moment and reopens the directory. Every reported
// save must be there, and the durable state must be exactly the state after
// the last reported save or after the one in flight -- never a mix (nothing
// half-written) -- and term and vote never go backwards. The workload records
// snapshots and compacts the log too, so every round continues on the same
// directory: recovery from a recovered directory, many times over, with the
// log kept short by compaction.
//
// RAFTKV_CRASH_ROUNDS sets the number of rounds (default 300).

#include <gtest/gtest.h>

#include <cstdlib>

#include "raft/rocksdb_storage.h"
#include "tests/integration/child_process.h"
#include "tests/integration/crash_workload.h"
#include "tests/unit/temporary_directory.h"

namespace raft {
namespace {

using namespace std::chrono_literals;

PersistentState load_or_fail(const std::string& directory) {
  auto storage = RocksDbStorage::open(directory, StorageIdentity{1, 1});
  if (!storage.ok()) throw std::runtime_error(storage.error().to_string());
  auto loaded = storage.value()->load();
  if (!loaded.ok()) throw std::runtime_error(loaded.error().to_string());
  return std::move(loaded).value();
}

TEST(StorageCrash, SyncedSavesSurviveSigkillAtRandomMomentsAndNothingHalfWrittenIsVisible) {
  const char* rounds_setting = std::getenv("RAFTKV_CRASH_ROUNDS");
  const int rounds = rounds_setting != nullptr ? std::atoi(rounds_setting) : 300;
  testing::TemporaryDirectory directory;
  const std::string data = directory.sub("data");
  DeterministicRandom random(20261126);
  std::uint64_t saves_confirmed = 0;
  int kills_mid_save = 0;

  PersistentState durable;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    if (round == 0) durable = load_or_fail(data);
    const PersistentState start = durable;
    const std::uint64_t seed = random.next();
    std::uint64_t reported = 0;
    {
      testing::ChildProcess child({STORAGE_CRASH_CHILD, data, std::to_string(seed)});
      ASSERT_EQ(child.read_line(10s), "ready") << "the child did not start";
      const auto kill_at =
          std::chrono::steady_clock::now() + std::chrono::microseconds(random.uniform(0, 40000));
      while (std::chrono::steady_clock::now() < kill_at) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(kill_at - std::chrono::steady_clock::now());
        if (auto line = child.read_line(std::max(left, 1ms))) {
          ASSERT_EQ(line->rfind("synced ", 0), 0u) << *line;
          reported = std::stoull(line->substr(7));
        }
      }
      child.kill_now();
      // Reports already written before the kill still count: each followed
      // a save that had returned, synced.
      while (auto line = child.read_line(1s)) reported = std::stoull(line->substr(7));
    }

    // The states the directory may hold: after `reported` saves, or after
    // the next one if the kill came between its sync and its report.
    testing::CrashWorkload model(start, seed);
    for (std::uint64_t k = 0; k < reported; ++k) model.apply(model.next());
    const PersistentState after_reported = model.state();
    model.apply(model.next());
    const PersistentState after_in_flight = model.state();

    durable = load_or_fail(data);
    const bool reported_state = testing::same_state(durable, after_reported);
    const bool in_flight_state = testing::same_state(durable, after_in_flight);
    ASSERT_TRUE(reported_state || in_flight_state)
        << "after " << reported << " reported saves the directory holds " << durable.entries.size()
        << " entries at term " << durable.hard_state.term() << "; expected " << after_reported.entries.size()
        << " or " << after_in_flight.entries.size();
    ASSERT_GE(durable.hard_state.term(), start.hard_state.term()) << "term went backwards";
    if (durable.hard_state.term() == start.hard_state.term() && start.hard_state.vote() != kNoNode) {
      ASSERT_EQ(durable.hard_state.vote(), start.hard_state.vote()) << "vote changed within a term";
    }
    saves_confirmed += reported;
    kills_mid_save += in_flight_state && !reported_state ? 1 : 0;
  }
  std::printf(
      "%d rounds: %llu operations confirmed, %d kills landed after an operation but before its report; "
      "final log %llu..%llu at term %llu, snapshot at %llu\n",
      rounds, static_cast<unsigned long long>(saves_confirmed), kills_mid_save,
      static_cast<unsigned long long>(durable.log_base.index() + 1),
      static_cast<unsigned long long>(durable.log_base.index() + durable.entries.size()),
      static_cast<unsigned long long>(durable.hard_state.term()),
      static_cast<unsigned long long>(durable.snapshot.index()));
}

}  // namespace
}  // namespace raft
