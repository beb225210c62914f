// Crash test of kv::Store with real processes: a child applies a known
// command stream (and now and then restores a snapshot that is ahead of it),
// and the test SIGKILLs it at a random moment and reopens the store. The
// store must hold exactly the state after its applied index -- no command
// skipped, none applied twice (versions count every put), no half-restored
// snapshot -- and never go back past what it had made durable: a restore
// that returned, or the state an earlier open found (closing flushes). It
// may lose applies it had not flushed: it writes no RocksDB write-ahead log
// (kvstore/unlogged_write.h), and the node replays them from its Raft log.
//
// RAFTKV_CRASH_ROUNDS sets the number of rounds (default 200).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "raft/random.h"
#include "tests/integration/child_process.h"
#include "tests/integration/kv_crash_workload.h"
#include "tests/unit/temporary_directory.h"

namespace raft {
namespace {

using namespace std::chrono_literals;

TEST(KvStoreCrash, AfterASigkillTheStoreHoldsExactlyTheStateOfItsAppliedIndex) {
  const char* rounds_setting = std::getenv("RAFTKV_CRASH_ROUNDS");
  const int rounds = rounds_setting != nullptr ? std::atoi(rounds_setting) : 200;
  testing::TemporaryDirectory directory;
  const std::string data = directory.sub("kv");
  DeterministicRandom random(20261127);
  Index applied = 0;
  int restores_started = 0;
  int kills_mid_restore = 0;
  int kills_that_lost_applies = 0;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Index reported = applied;
    Index restoring = 0;
    Index durable = applied;  // found by the last open, flushed as it closed
    {
      testing::ChildProcess child(
          {KV_CRASH_CHILD, data, directory.sub("scratch"), std::to_string(random.next())});
      ASSERT_EQ(child.read_line(10s), "ready") << "the child did not start";
      const auto kill_at =
          std::chrono::steady_clock::now() + std::chrono::microseconds(random.uniform(0, 40000));
      auto take = [&](const std::string& line) {
        if (line.rfind("restoring ", 0) == 0) {
          restoring = std::stoull(line.substr(10));
          ++restores_started;
        } else {
          ASSERT_EQ(line.rfind("applied ", 0), 0u) << line;
          reported = std::stoull(line.substr(8));
          if (restoring != 0) durable = std::max(durable, reported);  // restore() returned
          restoring = 0;
        }
      };
      while (std::chrono::steady_clock::now() < kill_at) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(kill_at - std::chrono::steady_clock::now());
        if (auto line = child.read_line(std::max(left, 1ms))) take(*line);
      }
      child.kill_now();
      while (auto line = child.read_line(1s)) take(*line);
    }

    auto store = kv::Store::open(data);
    ASSERT_TRUE(store.ok()) << store.error().to_string();
    applied = store.value()->applied_index();
    ASSERT_GE(applied, durable) << "the store went back past a finished restore or an earlier open's state";
    if (restoring != 0) {
      ASSERT_TRUE(applied <= reported || applied == restoring)
          << "a restore to " << restoring << " left applied index " << applied;
      kills_mid_restore += applied != restoring ? 1 : 0;
    }
    kills_that_lost_applies += applied < reported ? 1 : 0;
    const auto expected = testing::kv_state_after(applied);
    const auto actual = store.value()->all();
    ASSERT_TRUE(actual.ok()) << actual.error().to_string();
    ASSERT_EQ(actual.value().size(), expected.size()) << "at applied index " << applied;
    for (const auto& [key, value] : actual.value()) {
      const auto it = expected.find(key);
      ASSERT_NE(it, expected.end()) << key << " should not exist at " << applied;
      ASSERT_EQ(value.value(), it->second.value) << key << " at " << applied;
      ASSERT_EQ(value.version(), it->second.version) << key << " at " << applied << ": skipped or repeated";
      ASSERT_EQ(value.create_index(), it->second.create_index) << key;
      ASSERT_EQ(value.mod_index(), it->second.mod_index) << key;
    }
  }
  std::printf(
      "%d rounds: applied index reached %llu; %d restores started, %d killed before they finished; %d kills "
      "lost unflushed applies\n",
      rounds, static_cast<unsigned long long>(applied), restores_started, kills_mid_restore,
      kills_that_lost_applies);
}

}  // namespace
}  // namespace raft
