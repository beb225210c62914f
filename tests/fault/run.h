#pragma once
// One run of the fault harness: a fresh five-member cluster, clients
// calling it, the nemesis injecting faults from a seed for a while, then
// every fault healed, every key read once more, and the checks:
//
// 1. the history is linearizable (tests/checker);
// 2. every acknowledged write is in the final state unless a later write
//    replaced it;
// 3. every member's state digest is the same at the same applied index;
// 4. after every heal the cluster acknowledges a write within
//    `recovery_bound`, and no member exits (or refuses to start) by itself;
// 5. the run exercised log compaction and a catch-up by InstallSnapshot
//    (snapshot_catch_up.h makes sure of both).

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/checker/history.h"
#include "tests/checker/linearizability.h"
#include "tests/fault/network.h"
#include "tests/fault/violation.h"

namespace raftkv::fault {

struct RunOptions {
  std::uint64_t seed = 1;
  std::chrono::seconds duration{60};
  std::string raftkvd;
  std::string results_root;  // each run's folder is made under it
  bool keep = false;         // keep the folder of a run that passed too
  bool serializable_reads = false;
  // Instead of the nemesis: the membership scenario (membership_scenario.h).
  bool membership = false;
  // The power_loss_fs binary: members keep their data on it and the faults
  // are power failures (Nemesis::Mode::kPowerLoss). "": no power failures.
  std::string power_loss_fs;
  int clients = 10;
  std::chrono::milliseconds recovery_bound{10'000};
};

struct FaultEvent {
  std::int64_t start = 0;  // microseconds since the run began
  std::int64_t end = 0;
  std::string what;
};

struct RunRecord {
  RunOptions options;
  std::string folder;
  checker::History history;
  std::vector<FaultEvent> faults;
  std::map<std::string, int> fault_counts;
  std::vector<std::chrono::milliseconds> recoveries;  // after each heal
  checker::Verdict verdict;
  std::vector<Violation> violations;  // every check that failed
  std::size_t snapshot_installs = 0;  // "installing snapshot" in the members' logs
  std::vector<std::string> offending_keys;
  std::string digest_summary;
  std::chrono::milliseconds check_time{0};
  bool passed() const { return violations.empty(); }
};

// Runs once on `network` (made by the caller, whose main thread is in its
// hub). Never throws for a violation: they are in the record. Throws
// std::runtime_error when the harness itself cannot go on (a member that
// exits by itself is a violation, not this).
RunRecord run_once(const RunOptions& options, FaultNetwork& network);

// One line: seed, operations by outcome, faults, recovery, verdict.
std::string summary(const RunRecord& record);

}  // namespace raftkv::fault
