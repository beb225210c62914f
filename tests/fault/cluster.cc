#include "tests/fault/cluster.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace raftkv::fault {

namespace api = raftkv::api;

namespace {

constexpr int kPeerPort = 2380;
constexpr int kClientPort = 2379;

std::string listing(int members, std::string (*address)(int)) {
  std::string list;
  for (int member = 1; member <= members; ++member) {
    if (!list.empty()) list += ",";
    list += std::to_string(member) + "=" + address(member);
  }
  return list;
}

void reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

FaultCluster::FaultCluster(ClusterOptions options, const FaultNetwork& network)
    : options_(std::move(options)), network_(network) {
  std::filesystem::create_directories(options_.data_root);
  std::filesystem::create_directories(options_.log_directory);
  for (int member = 1; member <= options_.members; ++member) {
    Member& state = members_[member];
    if (!options_.power_loss_fs.empty()) {
      const std::string data = options_.data_root + "/m" + std::to_string(member);
      state.disk = std::make_unique<powerloss::PowerLossMount>(options_.power_loss_fs, data + ".disk", data,
                                                               log_path(member) + ".disk");
    }
  }
}

FaultCluster::~FaultCluster() {
  kill_all();
}

std::string FaultCluster::client_address(int member) {
  return FaultNetwork::member_address(member) + ":" + std::to_string(kClientPort);
}

std::string FaultCluster::peer_address(int member) {
  return FaultNetwork::member_address(member) + ":" + std::to_string(kPeerPort);
}

std::string FaultCluster::log_path(int member) const {
  return options_.log_directory + "/m" + std::to_string(member) + ".log";
}

std::string FaultCluster::last_log_line(int member) const {
  std::ifstream log(log_path(member));
  std::string last;
  for (std::string line; std::getline(log, line);) {
    if (!line.empty()) last = line;
  }
  return last;
}

int FaultCluster::running_members() const {
  int running = 0;
  for (const auto& [member, state] : members_) running += state.pid > 0 && !state.paused ? 1 : 0;
  return running;
}

void FaultCluster::start(int member, bool join) {
  Member& state = members_.at(member);
  if (state.pid > 0) return;
  // The power comes back: what the disk kept after its last failure (a
  // different choice each time, the same for the same seed).
  if (state.disk && !state.disk->mounted()) {
    state.disk->mount(options_.power_seed * 1000003 + static_cast<std::uint64_t>(member) * 1009 +
                      static_cast<std::uint64_t>(state.power_failures));
  }
  const int founders = options_.founders > 0 ? options_.founders : options_.members;
  std::vector<std::string> argv = {
      options_.raftkvd,
      "--id=" + std::to_string(member),
      "--cluster-id=" + std::to_string(options_.cluster_id),
      "--data-dir=" + options_.data_root + "/m" + std::to_string(member),
      "--listen-peer=" + peer_address(member),
      "--listen-client=" + client_address(member),
      "--peers=" + listing(join ? options_.members : founders, peer_address),
      "--clients=" + listing(options_.members, client_address),
      "--snapshot-entries=" + std::to_string(options_.snapshot_entries),
      "--compaction-margin=" + std::to_string(options_.compaction_margin),
  };
  if (join) argv.push_back("--initial-cluster-state=existing");
  // Everything the child needs is made before fork: after it, only calls
  // that are safe in a child of a threaded process.
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const std::string netns = network_.member_namespace(member);
  const std::string log = log_path(member);
  const std::string banner = "==== fault harness: start #" + std::to_string(++state.starts) + " of member " +
                             std::to_string(member) + " ====\n";
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);  // the harness died before the line above
    const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) _exit(125);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    (void)!write(STDERR_FILENO, banner.data(), banner.size());
    const int ns_fd = open(netns.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns_fd < 0 || setns(ns_fd, CLONE_NEWNET) != 0) _exit(124);
    execv(args[0], args.data());
    _exit(127);
  }
  state.pid = pid;
  state.paused = false;
}

void FaultCluster::kill(int member) {
  Member& state = members_.at(member);
  if (state.pid <= 0) return;
  ::kill(state.pid, SIGKILL);
  reap(state.pid);
  state.pid = -1;
  state.paused = false;
}

void FaultCluster::cut_power(int member) {
  Member& state = members_.at(member);
  if (!state.disk) throw std::logic_error("cut_power() needs a cluster on power_loss_fs");
  kill(member);
  if (!state.disk->mounted()) return;  // already off
  state.disk->cut_power();
  ++state.power_failures;
}

void FaultCluster::pause(int member) {
  Member& state = members_.at(member);
  if (state.pid <= 0 || state.paused) return;
  ::kill(state.pid, SIGSTOP);
  state.paused = true;
}

void FaultCluster::resume(int member) {
  Member& state = members_.at(member);
  if (state.pid <= 0 || !state.paused) return;
  ::kill(state.pid, SIGCONT);
  state.paused = false;
}

bool FaultCluster::running(int member) const {
  return members_.at(member).pid > 0;
}

bool FaultCluster::paused(int member) const {
  return members_.at(member).paused;
}

std::vector<int> FaultCluster::reap_exited() {
  std::vector<int> exited;
  for (auto& [member, state] : members_) {
    int status = 0;
    if (state.pid > 0 && waitpid(state.pid, &status, WNOHANG) == state.pid) {
      exited.push_back(member);
      state.pid = -1;
      state.paused = false;
      state.exit_status = status;
    }
  }
  return exited;
}

std::string FaultCluster::how_it_exited(int member) const {
  const int status = members_.at(member).exit_status;
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "exit status " + std::to_string(WEXITSTATUS(status));
}

std::vector<int> FaultCluster::restore_all() {
  const std::vector<int> crashed = reap_exited();
  for (const auto& [member, state] : members_) {
    resume(member);
    start(member);
  }
  return crashed;
}

void FaultCluster::kill_all() {
  for (auto& [member, state] : members_) kill(member);
}

api::Admin::Stub& FaultCluster::admin(int member) {
  auto& stub = admins_[member];
  if (!stub) {
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    stub = api::Admin::NewStub(
        grpc::CreateCustomChannel(client_address(member), grpc::InsecureChannelCredentials(), arguments));
  }
  return *stub;
}

std::optional<int> FaultCluster::leader() {
  std::optional<int> found;
  std::uint64_t best_term = 0;
  for (const auto& [member, state] : members_) {
    const std::optional<api::StatusResponse> answer = status(member, std::chrono::milliseconds(300));
    if (answer && answer->role() == "leader" && answer->header().term() >= best_term) {
      best_term = answer->header().term();
      found = member;
    }
  }
  return found;
}

std::optional<api::StatusResponse> FaultCluster::status(int member, std::chrono::milliseconds timeout,
                                                        bool with_state_digest) {
  const Member& state = members_.at(member);
  if (state.pid <= 0 || state.paused) return std::nullopt;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  api::StatusRequest request;
  request.set_with_state_digest(with_state_digest);
  api::StatusResponse status;
  if (!admin(member).Status(&context, request, &status).ok()) return std::nullopt;
  return status;
}

std::map<int, api::StateDigest> FaultCluster::state_digests(std::chrono::milliseconds timeout) {
  std::map<int, api::StateDigest> digests;
  for (const auto& [member, state] : members_) {
    if (auto answer = status(member, timeout, /*with_state_digest=*/true)) digests[member] = answer->state();
  }
  return digests;
}

}  // namespace raftkv::fault
