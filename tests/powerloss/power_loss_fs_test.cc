// power_loss_fs mounted for real (root and /dev/fuse): programs see an
// ordinary file system; a power failure keeps everything synced and loses
// or keeps the rest only as a disk could; RocksDB's synced writes survive
// it. The fault harness's power-loss runs stand on this.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "tests/powerloss/power_loss_disk_test.h"

namespace raftkv::powerloss {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// Writes through a descriptor, as programs do; syncs when asked.
void write_file(const std::string& path, const std::string& content, bool sync, int extra_flags = O_TRUNC) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | extra_flags, 0644);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  if (sync) {
    ASSERT_EQ(::fdatasync(fd), 0);
  }
  ::close(fd);
}

class PowerLossFs : public PowerLossDiskTest {
 protected:
  std::string at(const std::string& name) const { return disk_->mountpoint() + "/" + name; }
};

TEST_F(PowerLossFs, ProgramsSeeAnOrdinaryFileSystem) {
  write_file(at("a"), "hello", false);
  EXPECT_EQ(slurp(at("a")), "hello");
  EXPECT_EQ(std::filesystem::file_size(at("a")), 5u);
  write_file(at("a"), ", world", false, O_APPEND);
  EXPECT_EQ(slurp(at("a")), "hello, world");
  std::filesystem::resize_file(at("a"), 4);
  EXPECT_EQ(slurp(at("a")), "hell");
  write_file(at("a"), "new", false);  // O_TRUNC
  EXPECT_EQ(slurp(at("a")), "new");

  std::filesystem::create_directories(at("d/e"));
  std::filesystem::rename(at("a"), at("d/e/b"));
  std::filesystem::create_hard_link(at("d/e/b"), at("d/c"));
  EXPECT_EQ(slurp(at("d/c")), "new");
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(at("d")))
    names.insert(entry.path().filename());
  EXPECT_EQ(names, (std::set<std::string>{"c", "e"}));

  // A file removed while open still reads and writes through its handle.
  const int fd = ::open(at("d/c").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::filesystem::remove(at("d/c"));
  std::filesystem::remove(at("d/e/b"));
  ASSERT_EQ(::pwrite(fd, "NEW", 3, 0), 3);
  char back[4] = {};
  ASSERT_EQ(::pread(fd, back, 3, 0), 3);
  EXPECT_STREQ(back, "NEW");
  EXPECT_EQ(::fsync(fd), 0);
  ::close(fd);
  EXPECT_FALSE(std::filesystem::exists(at("d/c")));
}

TEST_F(PowerLossFs, APowerFailureKeepsWhatWasSyncedAndOnlyPossibleRemainsOfTheRest) {
  int kept_unsynced = 0, lost_unsynced = 0;
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    // synced: 10,000 synced bytes, then 20,000 unsynced appended.
    write_file(at("synced"), std::string(10000, 's'), true);
    write_file(at("synced"), std::string(20000, 'u'), false, O_APPEND);
    // replaced: the atomic-replace pattern (write, sync, rename).
    write_file(at("replaced.tmp"), "version " + std::to_string(seed), true);
    std::filesystem::rename(at("replaced.tmp"), at("replaced"));
    // careless: renamed into place without a sync.
    write_file(at("careless.tmp"), std::string(5000, 'c'), false);
    std::filesystem::rename(at("careless.tmp"), at("careless"));
    disk_->cut_power();
    disk_->mount(seed + 1);

    const std::string synced = slurp(at("synced"));
    ASSERT_GE(synced.size(), 10000u) << "seed " << seed;
    ASSERT_EQ(synced.substr(0, 10000), std::string(10000, 's')) << "seed " << seed;
    for (std::size_t i = 10000; i < synced.size(); ++i)
      ASSERT_TRUE(synced[i] == 'u' || synced[i] == '\0') << "seed " << seed << " byte " << i;
    (synced.size() > 10000 ? kept_unsynced : lost_unsynced)++;
    EXPECT_EQ(slurp(at("replaced")), "version " + std::to_string(seed)) << "seed " << seed;
    // The rename is durable, the data need not be.
    ASSERT_TRUE(std::filesystem::exists(at("careless"))) << "seed " << seed;
    const std::string careless = slurp(at("careless"));
    for (char c : careless) ASSERT_TRUE(c == 'c' || c == '\0') << "seed " << seed;
    std::filesystem::remove(at("synced"));
    std::filesystem::remove(at("careless"));
  }
  EXPECT_GT(lost_unsynced, 0) << "some power failure lost the unsynced appends";
  EXPECT_GT(kept_unsynced, 0) << "and some kept part of them";
}

// The writer is a child process killed with SIGKILL before the power is
// cut, as a machine losing power takes its processes along.
TEST_F(PowerLossFs, RocksDbKeepsEverySyncedWrite) {
  const std::string path = at("db");
  for (int round = 0; round < 5; ++round) {
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // In the child: report through the exit status what went wrong, or
      // one byte on the pipe once the round's writes are done.
      ::close(pipe_fds[0]);
      rocksdb::Options options;
      options.create_if_missing = true;
      rocksdb::DB* raw = nullptr;
      if (!rocksdb::DB::Open(options, path, &raw).ok()) ::_exit(10);
      for (int earlier = 0; earlier < round; ++earlier) {
        for (int i = 0; i < 200; ++i) {
          std::string value;
          const std::string key = "synced-" + std::to_string(earlier) + "-" + std::to_string(i);
          if (!raw->Get({}, key, &value).ok() || value != std::string(100, 'v')) ::_exit(11);
        }
      }
      rocksdb::WriteOptions synced;
      synced.sync = true;
      for (int i = 0; i < 200; ++i) {
        const std::string suffix = std::to_string(round) + "-" + std::to_string(i);
        if (!raw->Put({}, "unsynced-" + suffix, std::string(300, 'x')).ok() ||
            !raw->Put(synced, "synced-" + suffix, std::string(100, 'v')).ok() ||
            !raw->Put({}, "after-" + suffix, std::string(300, 'y')).ok())
          ::_exit(12);
      }
      (void)!::write(pipe_fds[1], "k", 1);
      ::pause();
      ::_exit(0);
    }
    ::close(pipe_fds[1]);
    char done = 0;
    const ssize_t got = ::read(pipe_fds[0], &done, 1);
    ::close(pipe_fds[0]);
    int status = 0;
    if (got == 1) ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    ASSERT_EQ(got, 1) << "round " << round << ": the writer exited with status " << WEXITSTATUS(status)
                      << " (10: RocksDB would not open, 11: a synced key was lost, 12: a write failed)";
    disk_->cut_power();
    disk_->mount(100 + static_cast<std::uint64_t>(round));
  }
}

}  // namespace
}  // namespace raftkv::powerloss
