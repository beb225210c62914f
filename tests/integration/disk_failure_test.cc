// A member whose disk fails under it, with real raftkvd processes: member
// 1 leads a cluster of three with its data directory on power_loss_fs, and
// its disk breaks while clients write (every write and sync fails with EIO
// from then on). It must stop -- exit with status 1, saying its storage
// failed -- rather than serve on a log it can no longer keep; the other two
// elect a leader, and every write acknowledged, before or after, is there.
// Needs root and /dev/fuse, like the power-loss runs.

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "tests/integration/process_cluster.h"
#include "tests/integration/read_file.h"
#include "tests/powerloss/power_loss_mount.h"

namespace raftkv {
namespace {

using namespace std::chrono_literals;
using raft::testing::read_file;

class DiskFailure : public ProcessCluster {
 protected:
  void SetUp() override {
    if (const std::string missing = powerloss::PowerLossMount::missing_prerequisite(); !missing.empty()) {
      GTEST_FAIL() << missing << " (this test runs as root, as CI does)";
    }
    disk_ = std::make_unique<powerloss::PowerLossMount>(POWER_LOSS_FS, scratch_.sub("disk-1"),
                                                        scratch_.sub("node-1"), scratch_.sub("disk-1.log"));
    disk_->mount(1);
  }
  void TearDown() override {
    processes_.clear();  // nothing may use the disk when its power goes
    disk_.reset();
  }

  std::unique_ptr<powerloss::PowerLossMount> disk_;
};

TEST_F(DiskFailure, AMemberWhoseDiskFailsStopsAndTheOthersKeepEveryAcknowledgedWrite) {
  start_cluster(3);
  std::uint64_t leading = leader({1, 2, 3});
  ASSERT_NE(leading, 0u) << read_file(log(1));
  if (leading != 1) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    api::TransferLeadershipRequest request;
    request.set_target(1);
    api::TransferLeadershipResponse response;
    const grpc::Status moved =
        admin(static_cast<int>(leading))->TransferLeadership(&context, request, &response);
    ASSERT_TRUE(moved.ok()) << moved.error_message();
  }
  ASSERT_EQ(leader({1, 2, 3}), 1u);

  // Two clients write through the leader and one follower, before and after.
  std::atomic<bool> done{false};
  std::mutex mutex;
  std::vector<std::string> acknowledged;
  std::vector<std::thread> clients;
  for (int via : {1, 2}) {
    clients.emplace_back([&, via] {
      for (int i = 0; !done; ++i) {
        const std::string key = "via-" + std::to_string(via) + "-" + std::to_string(i);
        if (put(via, key, "v").ok()) {
          std::lock_guard lock(mutex);
          acknowledged.push_back(key);
        }
      }
    });
  }
  auto acknowledged_count = [&] {
    std::lock_guard lock(mutex);
    return acknowledged.size();
  };
  EXPECT_TRUE(raft::testing::eventually([&] { return acknowledged_count() >= 200; }));
  disk_->break_disk();
  const std::optional<int> status = processes_[1]->wait_exit(30s);
  const std::size_t before_exit = acknowledged_count();
  EXPECT_TRUE(raft::testing::eventually([&] { return acknowledged_count() >= before_exit + 100; }))
      << "the two others did not go on";
  done = true;
  for (std::thread& client : clients) client.join();

  const std::string member_log = read_file(log(1));
  ASSERT_TRUE(status.has_value()) << "member 1 did not stop after its disk failed\n" << member_log;
  EXPECT_EQ(*status, 1) << member_log;
  EXPECT_NE(member_log.find("storage failed; the node stopped to protect its data"), std::string::npos)
      << member_log;
  EXPECT_NE(member_log.find("stopping: this member's storage failed"), std::string::npos) << member_log;
  const std::uint64_t successor = leader({2, 3});
  ASSERT_TRUE(successor == 2 || successor == 3);
  for (const std::string& key : acknowledged) ASSERT_EQ(get(2, key), "v") << key;
  std::printf("%zu writes acknowledged, %zu of them before member 1 exited\n", acknowledged.size(),
              before_exit);
}

}  // namespace
}  // namespace raftkv
