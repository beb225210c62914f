#include "tests/fault/network.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <regex>
#include <stdexcept>

#include "tests/fault/command.h"

namespace raftkv::fault {

namespace {

constexpr char kTable[] = "raftkv_fault";
constexpr char kNamePrefix[] = "rkf";  // rkf<pid>-hub, rkf<pid>-m<i>

void in_namespace(const std::string& name, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"ip", "netns", "exec", name});
  run_or_throw(argv);
}

}  // namespace

std::string FaultNetwork::missing_prerequisite() {
  if (geteuid() != 0) return "network namespaces need root (CI runs the fault tests as root)";
  for (const char* program : {"ip", "nft"}) {
    if (!on_path(program)) {
      return std::string(program) +
             " is not installed (tools/setup/install-deps.sh installs iproute2 and nftables)";
    }
  }
  return "";
}

void FaultNetwork::remove_stale_namespaces() {
  const std::regex ours(std::string(kNamePrefix) + "([0-9]+)-(hub|m[0-9]+)");
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", error)) {
    std::smatch match;
    const std::string name = entry.path().filename().string();
    if (!std::regex_match(name, match, ours)) continue;
    const pid_t owner = static_cast<pid_t>(std::stol(match[1]));
    if (kill(owner, 0) == 0 || errno != ESRCH) continue;  // its harness still runs
    run_command({"ip", "netns", "del", name});
  }
}

FaultNetwork::FaultNetwork(int members) {
  const std::string prefix = kNamePrefix + std::to_string(getpid()) + "-";
  hub_ = prefix + "hub";
  try {
    run_or_throw({"ip", "netns", "add", hub_});
    run_or_throw({"ip", "-n", hub_, "link", "set", "lo", "up"});
    run_or_throw({"ip", "-n", hub_, "link", "add", "br0", "type", "bridge"});
    run_or_throw({"ip", "-n", hub_, "addr", "add", "10.99.0.254/24", "dev", "br0"});
    run_or_throw({"ip", "-n", hub_, "link", "set", "br0", "up"});
    for (int member = 1; member <= members; ++member) {
      const std::string name = prefix + "m" + std::to_string(member);
      const std::string port = "m" + std::to_string(member);
      run_or_throw({"ip", "netns", "add", name});
      members_.push_back(name);
      run_or_throw({"ip", "-n", name, "link", "set", "lo", "up"});
      run_or_throw(
          {"ip", "-n", hub_, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", name});
      run_or_throw({"ip", "-n", hub_, "link", "set", port, "master", "br0"});
      run_or_throw({"ip", "-n", hub_, "link", "set", port, "up"});
      run_or_throw({"ip", "-n", name, "addr", "add", member_address(member) + "/24", "dev", "eth0"});
      run_or_throw({"ip", "-n", name, "link", "set", "eth0", "up"});
      in_namespace(name, {"nft", "add", "table", "inet", kTable});
      in_namespace(name, {"nft", "add", "chain", "inet", kTable, "input",
                          "{ type filter hook input priority 0 ; policy accept ; }"});
      in_namespace(name, {"nft", "add", "chain", "inet", kTable, "output",
                          "{ type filter hook output priority 0 ; policy accept ; }"});
    }
  } catch (...) {
    for (const std::string& name : members_) run_command({"ip", "netns", "del", name});
    run_command({"ip", "netns", "del", hub_});
    throw;
  }
}

FaultNetwork::~FaultNetwork() {
  for (const std::string& name : members_) run_command({"ip", "netns", "del", name});
  run_command({"ip", "netns", "del", hub_});
}

void FaultNetwork::enter_hub() const {
  const std::string path = "/run/netns/" + hub_;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  const int entered = setns(fd, CLONE_NEWNET);
  const int saved = errno;
  close(fd);
  if (entered != 0) throw std::runtime_error("cannot enter " + path + ": " + std::strerror(saved));
}

std::string FaultNetwork::member_namespace(int member) const {
  return "/run/netns/" + members_.at(static_cast<std::size_t>(member - 1));
}

std::string FaultNetwork::member_address(int member) {
  return "10.99.0." + std::to_string(member);
}

void FaultNetwork::cut_pair(int a, int b, CutKind kind) {
  for (const auto& [self, other] : {std::pair{a, b}, std::pair{b, a}}) {
    const std::string& name = members_.at(static_cast<std::size_t>(self - 1));
    if (kind == CutKind::kDrop) {
      in_namespace(name, {"nft", "add", "rule", "inet", kTable, "input", "ip", "saddr", member_address(other),
                          "drop"});
    } else {
      in_namespace(name, {"nft", "add", "rule", "inet", kTable, "output", "ip", "daddr",
                          member_address(other), "reject", "with", "icmp", "type", "host-unreachable"});
    }
  }
}

void FaultNetwork::cut(const std::set<int>& side, CutKind kind) {
  for (int a : side) {
    for (int b = 1; b <= static_cast<int>(members_.size()); ++b) {
      if (!side.count(b)) cut_pair(a, b, kind);
    }
  }
}

void FaultNetwork::heal() {
  for (const std::string& name : members_) in_namespace(name, {"nft", "flush", "table", "inet", kTable});
}

}  // namespace raftkv::fault
