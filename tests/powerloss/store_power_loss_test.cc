// kv::Store on power_loss_fs (root and /dev/fuse): after a power failure
// the store holds the state after exactly applied_index() commands -- the
// promise the node's recovery stands on, since it replays the Raft log from
// applied_index() + 1 and never looks at what came before.
//
// The writer (store_writer) applies numbered commands in batches, as the
// apply thread does, and never syncs; it is killed with SIGKILL and the
// power cut with a long unsynced tail in flight. The disk then keeps none
// of that tail or any subset of its pages (some torn), as a kernel writing
// dirty pages back in its own order leaves them. The test opens the store
// and compares it, key by key, with the state after applied_index()
// commands (numbered_commands.h).
//
// The writer reports on descriptor 3, never on standard output: the
// store's log goes there, and a warning's first byte once passed for a
// report, so that the test killed the writer in the middle of a restore
// and blamed the store.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/powerloss/numbered_commands.h"
#include "tests/powerloss/power_loss_disk_test.h"

extern char** environ;

namespace raftkv::powerloss {
namespace {

class StorePowerLoss : public PowerLossDiskTest {
 protected:
  void TearDown() override {
    if (writer_ > 0) stop_writer();  // nothing may use the disk when its power goes
    PowerLossDiskTest::TearDown();
  }

  // Runs store_writer with `arguments` until it reports (then waits `delay`
  // and kills it).
  void write_then_kill(std::vector<std::string> arguments, std::chrono::microseconds delay = {}) {
    int pipe_fds[2];
    ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 3);  // its reports; stdout is its log
    arguments.insert(arguments.begin(), {STORE_WRITER, store_path()});
    std::vector<char*> argv;
    for (std::string& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    const int spawned = ::posix_spawn(&writer_, STORE_WRITER, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);
    if (spawned != 0) {
      ::close(pipe_fds[0]);
      writer_ = -1;
      FAIL() << "cannot start " << STORE_WRITER << ": " << std::strerror(spawned);
    }
    char done = 0;
    const ssize_t got = ::read(pipe_fds[0], &done, 1);
    ::close(pipe_fds[0]);
    if (got == 1) std::this_thread::sleep_for(delay);
    const int status = stop_writer();
    ASSERT_EQ(got, 1) << "the writer exited with status " << WEXITSTATUS(status)
                      << " (10: the store would not open, 11: an apply failed, 12: the restore failed)";
  }

  int stop_writer() {
    ::kill(writer_, SIGKILL);
    int status = 0;
    ::waitpid(writer_, &status, 0);
    writer_ = -1;
    return status;
  }

  void cut_power_and_restore(std::uint64_t seed) {
    disk_->cut_power();
    disk_->mount(seed);
  }

  // Checks that the store holds the state after exactly its applied index;
  // returns that index. It checks a copy, so that the writer's next run
  // recovers the store just as the power failure left it -- opening and
  // closing it here would flush what it recovered and hide a recovery
  // that goes wrong only when it follows another.
  raft::Index check_store() {
    const std::string copy = directory_.sub("checked-" + std::to_string(++checks_));
    std::filesystem::copy(store_path(), copy, std::filesystem::copy_options::recursive);
    auto opened = kv::Store::open(copy, small_memory());
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    if (!opened.ok()) return 0;
    const raft::Index applied = opened.value()->applied_index();
    auto all = opened.value()->all();
    EXPECT_TRUE(all.ok()) << all.error().message;
    if (!all.ok()) return 0;
    std::map<std::string, std::string> held;
    for (const auto& [key, stored] : all.value()) held[key] = stored.value();
    const std::map<std::string, std::string> expected = state_after(applied);
    EXPECT_EQ(held.size(), expected.size()) << "keys held at applied index " << applied;
    for (const auto& [key, value] : expected) {
      auto found = held.find(key);
      if (found == held.end()) {
        ADD_FAILURE() << key << " is missing at applied index " << applied;
        break;
      }
      if (found->second != value) {
        ADD_FAILURE() << key << " at applied index " << applied << " holds another command's value";
        break;
      }
    }
    return applied;
  }

  std::string store_path() const { return disk_->mountpoint() + "/kv"; }

  pid_t writer_ = -1;
  int checks_ = 0;
};

TEST_F(StorePowerLoss, TheStoreHoldsTheStateAfterExactlyItsAppliedIndex) {
  raft::Index durable = 0;  // the applied index found after the last power failure
  int rounds_that_lost_commands = 0;
  for (std::uint64_t round = 1; round <= 12; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // Killed 0-45 ms after the first 4,000 commands, as it keeps writing.
    write_then_kill({"4000", "--keep-writing"}, std::chrono::milliseconds(5 * (round % 10)));
    if (HasFatalFailure()) return;
    const raft::Index applied_at_least = durable + 4000;
    cut_power_and_restore(1000 + round);
    const raft::Index applied = check_store();
    if (HasFailure()) return;
    ASSERT_GE(applied, durable) << "the store went back past a state that had survived";
    if (applied < applied_at_least) ++rounds_that_lost_commands;
    durable = applied;
  }
  // Proof that the test exercised what it is about: power failures took
  // applied commands with them.
  EXPECT_GT(rounds_that_lost_commands, 0);
}

// A snapshot installed from a leader replaces the whole state: after a
// power failure the store holds the state before the restore or after it,
// never a mixture -- and once restore() has returned, never the one before
// (the node then drops the older snapshots and the log the restore
// replaced).
TEST_F(StorePowerLoss, ARestoreIsAllOrNothingAndDurableOnceItReturns) {
  raft::Index applied = 0;
  int cut_short = 0, finished = 0;
  for (std::uint64_t round = 1; round <= 12; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const raft::Index snapshot = applied + 6000;
    const bool kill_during_restore = round % 2 == 0;
    std::vector<std::string> arguments = {"1500", "--restore", std::to_string(snapshot),
                                          directory_.sub("reference-" + std::to_string(round))};
    if (kill_during_restore) arguments.push_back("--report-before-restore");
    write_then_kill(arguments, std::chrono::microseconds(kill_during_restore ? 3000 * (round % 5) : 0));
    if (HasFatalFailure()) return;
    cut_power_and_restore(2000 + round);
    const raft::Index before = applied;
    applied = check_store();
    if (HasFailure()) return;
    if (!kill_during_restore) {
      ASSERT_GE(applied, snapshot) << "restore() returned, then a power failure undid it";
    }
    (applied >= snapshot ? finished : cut_short)++;
    ASSERT_GE(applied, before) << "the state went back past what a restore had made durable";
  }
  EXPECT_GT(finished, 0);
  EXPECT_GT(cut_short, 0) << "no power failure landed in the middle of a restore";
}

}  // namespace
}  // namespace raftkv::powerloss
