#include "tests/powerloss/power_loss_mount.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace raftkv::powerloss {

namespace {

constexpr long kFuseSuperMagic = 0x65735546;
constexpr auto kPatience = std::chrono::seconds(10);

bool fuse_mounted_at(const std::string& path) {
  struct statfs status {};
  return ::statfs(path.c_str(), &status) == 0 && status.f_type == kFuseSuperMagic;
}

// The last lines of a log, for an error message.
std::string tail(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string text;
  for (std::size_t i = lines.size() > 5 ? lines.size() - 5 : 0; i < lines.size(); ++i)
    text += "\n  " + lines[i];
  return text;
}

// mountinfo escapes spaces and the like as \ooo.
std::string unescape(const std::string& field) {
  std::string text;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      text += static_cast<char>(std::stoi(field.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      text += field[i];
    }
  }
  return text;
}

}  // namespace

PowerLossMount::PowerLossMount(std::string file_system, std::string backing, std::string mountpoint,
                               std::string log)
    : file_system_(std::move(file_system)),
      backing_(std::move(backing)),
      mountpoint_(std::move(mountpoint)),
      log_(std::move(log)) {
  std::filesystem::create_directories(backing_);
  std::filesystem::create_directories(mountpoint_);
}

PowerLossMount::~PowerLossMount() {
  if (pid_ <= 0) return;
  try {
    cut_power();
  } catch (const std::exception&) {
    // Already forced down by cut_power(); nothing more to do here.
  }
}

void PowerLossMount::mount(std::uint64_t seed) {
  if (pid_ > 0) return;
  const std::vector<std::string> argv = {file_system_, "--backing",          backing_,
                                         "--seed",     std::to_string(seed), mountpoint_};
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) ::_exit(125);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!fuse_mounted_at(mountpoint_)) {
    int status = 0;
    const bool exited = ::waitpid(pid_, &status, WNOHANG) == pid_;
    if (exited || std::chrono::steady_clock::now() > deadline) {
      if (!exited) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
      pid_ = -1;
      throw std::runtime_error("power_loss_fs did not mount " + mountpoint_ + " within 10 s; its log " +
                               log_ + " ends:" + tail(log_));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void PowerLossMount::cut_power() {
  if (pid_ <= 0) return;
  const pid_t pid = pid_;
  pid_ = -1;
  ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  int status = 0;
  bool exited = false;
  while (!(exited = ::waitpid(pid, &status, WNOHANG) == pid) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  const bool still_mounted = fuse_mounted_at(mountpoint_);
  if (still_mounted) ::umount2(mountpoint_.c_str(), MNT_DETACH);
  if (!exited || still_mounted) {
    throw std::runtime_error("power_loss_fs on " + mountpoint_ +
                             (exited ? " left its mount behind" : " did not stop") +
                             " (is something still using it?); its log " + log_ + " ends:" + tail(log_));
  }
}

void PowerLossMount::break_disk() {
  if (pid_ > 0) ::kill(pid_, SIGUSR1);
}

std::string PowerLossMount::missing_prerequisite() {
  if (::geteuid() != 0) return "mounting power_loss_fs needs root";
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return "mounting power_loss_fs needs /dev/fuse (FUSE)";
  return "";
}

void PowerLossMount::detach_stale_mounts(const std::string& root) {
  std::ifstream mounts("/proc/self/mountinfo");
  std::vector<std::string> stale;
  for (std::string line; std::getline(mounts, line);) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE ...
    std::istringstream fields(line);
    std::string field, mountpoint;
    for (int i = 0; i < 5 && fields >> field; ++i) mountpoint = field;
    while (fields >> field && field != "-") {
    }
    std::string type;
    fields >> type;
    mountpoint = unescape(mountpoint);
    if (type == "fuse.power_loss_fs" && mountpoint.starts_with(root)) stale.push_back(mountpoint);
  }
  // Deepest first, should one be mounted inside another.
  for (auto at = stale.rbegin(); at != stale.rend(); ++at) ::umount2(at->c_str(), MNT_DETACH);
}

}  // namespace raftkv::powerloss
