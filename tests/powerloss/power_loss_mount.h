#pragma once
// One power_loss_fs mount, run by a test: mount() starts the file system on
// a backing directory and returns once the mount point serves it;
// cut_power() stops it -- everything not synced is lost as the file system
// chooses (power_loss_fs.cc) -- and returns once it has unmounted. Mount
// again to bring the disk back. The process is a child of the caller,
// started with PR_SET_PDEATHSIG so that it dies with a test that dies; the
// destructor cuts the power if it is still on.
//
// Needs root and /dev/fuse (missing_prerequisite() says what is missing).
// Whoever uses the disk must have stopped (killed and reaped) before the
// power is cut, or the unmount is refused as busy.

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace raftkv::powerloss {

class PowerLossMount {
 public:
  PowerLossMount(std::string file_system, std::string backing, std::string mountpoint, std::string log);
  ~PowerLossMount();
  PowerLossMount(const PowerLossMount&) = delete;
  PowerLossMount& operator=(const PowerLossMount&) = delete;

  // Throws std::runtime_error when the file system does not come up within
  // 10 s (its log says why). `seed` chooses what the next power failure keeps.
  void mount(std::uint64_t seed);
  // Throws when the file system does not stop and unmount within 10 s.
  void cut_power();
  // The disk fails: every later write or sync on it fails with EIO.
  void break_disk();
  bool mounted() const { return pid_ > 0; }
  const std::string& mountpoint() const { return mountpoint_; }

  // "" when FUSE mounts can be made here, else why not.
  static std::string missing_prerequisite();
  // Detaches every power_loss_fs mount under `root` that a killed test left
  // behind (its file system process is gone, so it only answers ENOTCONN).
  static void detach_stale_mounts(const std::string& root);

 private:
  const std::string file_system_;
  const std::string backing_;
  const std::string mountpoint_;
  const std::string log_;
  pid_t pid_ = -1;
};

}  // namespace raftkv::powerloss
