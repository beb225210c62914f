#pragma once
// A test on a power_loss_fs disk of its own, mounted fresh for each test
// (root and /dev/fuse; a test without them fails, saying what is missing)
// and its power cut at the end.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/powerloss/power_loss_mount.h"
#include "tests/unit/temporary_directory.h"

namespace raftkv::powerloss {

class PowerLossDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string missing = PowerLossMount::missing_prerequisite(); !missing.empty()) {
      GTEST_FAIL() << missing << " (the power-loss tests run as root, as CI does)";
    }
    disk_ = std::make_unique<PowerLossMount>(POWER_LOSS_FS, directory_.sub("backing"), directory_.sub("mnt"),
                                             directory_.sub("fs.log"));
    disk_->mount(1);
  }
  void TearDown() override {
    if (disk_) disk_->cut_power();
  }

  raft::testing::TemporaryDirectory directory_;
  std::unique_ptr<PowerLossMount> disk_;
};

}  // namespace raftkv::powerloss
