#pragma once
// Five raftkvd processes in their network namespaces (network.h), each
// with its data directory and a log file that every restart appends to.
// The harness kills (SIGKILL), pauses (SIGSTOP), resumes and restarts them
// by PID; the destructor kills and reaps whatever still runs. Children are
// started with PR_SET_PDEATHSIG, so a harness that dies takes them along.
//
// With a power-loss file system (ClusterOptions::power_loss_fs) each
// member's data directory is a power_loss_fs mount of its own, and
// cut_power() kills the member and fails its disk's power: what it had not
// synced is lost. The next start() turns the power back on (mounts again).
//
// Call everything from one thread (the one that made the cluster): the
// death signal is tied to the thread that forked.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proto/kv.grpc.pb.h"
#include "tests/fault/network.h"
#include "tests/powerloss/power_loss_mount.h"

namespace raftkv::fault {

struct ClusterOptions {
  std::string raftkvd;        // the binary
  std::string data_root;      // member i keeps its data in data_root/m<i>
  std::string log_directory;  // member i logs to log_directory/m<i>.log
  int members = 5;
  // Members 1..founders found the cluster (their --peers lists only them);
  // the others join it later (start(member, /*join=*/true)). 0: all found it.
  int founders = 0;
  std::uint64_t cluster_id = 7;
  // Small, so that snapshots, compaction and InstallSnapshot happen in a
  // run of a minute, under the faults.
  std::uint64_t snapshot_entries = 2000;
  std::uint64_t compaction_margin = 500;
  // The power_loss_fs binary, or "" for plain data directories. Member i's
  // disk is backed by data_root/m<i>.disk; `power_seed` and the member's
  // count of power failures choose what each failure keeps.
  std::string power_loss_fs;
  std::uint64_t power_seed = 1;
};

class FaultCluster {
 public:
  FaultCluster(ClusterOptions options, const FaultNetwork& network);
  ~FaultCluster();
  FaultCluster(const FaultCluster&) = delete;
  FaultCluster& operator=(const FaultCluster&) = delete;

  int members() const { return options_.members; }
  static std::string client_address(int member);  // 10.99.0.<member>:2379
  static std::string peer_address(int member);    // 10.99.0.<member>:2380

  // No-op when running. A joining member starts with
  // --initial-cluster-state=existing and every member in its --peers.
  void start(int member, bool join = false);
  void kill(int member);  // SIGKILL and reap; no-op when down
  // kill(), then the member's disk loses its power (needs power_loss_fs).
  void cut_power(int member);
  void pause(int member);   // SIGSTOP
  void resume(int member);  // SIGCONT
  bool running(int member) const;
  int running_members() const;  // running and not paused
  bool paused(int member) const;

  // The members that exited since the last look, by themselves (a crash the
  // harness did not cause, or a start they refused); reaped, left down.
  std::vector<int> reap_exited();
  // How a member that exited by itself ended: "exit status 1", "signal 6".
  std::string how_it_exited(int member) const;
  // Restarts every member that is down and resumes every paused one.
  // Returns the members found to have exited by themselves (a crash the
  // harness did not cause), which are restarted too.
  std::vector<int> restore_all();
  void kill_all();

  // The member that says it leads with the highest term, asking every
  // running, unpaused member (briefly); nullopt when none does.
  std::optional<int> leader();

  // Every running member's state digest (Admin Status), when it answers.
  std::map<int, raftkv::api::StateDigest> state_digests(std::chrono::milliseconds timeout);
  // One member's Admin Status, when it answers within `timeout`.
  std::optional<raftkv::api::StatusResponse> status(int member, std::chrono::milliseconds timeout,
                                                    bool with_state_digest = false);

  std::string log_path(int member) const;
  // The last line of the member's log: why a member that exited did.
  std::string last_log_line(int member) const;

 private:
  struct Member {
    pid_t pid = -1;
    bool paused = false;
    int starts = 0;
    int power_failures = 0;
    int exit_status = 0;                              // waitpid's, when it exited by itself
    std::unique_ptr<powerloss::PowerLossMount> disk;  // with power_loss_fs only
  };

  raftkv::api::Admin::Stub& admin(int member);

  const ClusterOptions options_;
  const FaultNetwork& network_;
  std::map<int, Member> members_;
  std::map<int, std::unique_ptr<raftkv::api::Admin::Stub>> admins_;
};

}  // namespace raftkv::fault
