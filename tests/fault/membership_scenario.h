#pragma once
// The membership scenario of the fault harness (fault_run --membership):
// while the clients run, a three-member cluster grows to five (each new
// member started empty, added as a learner, promoted once caught up),
// loses member 2 to SIGKILL, replaces it (removed, and a fresh member 6
// with an empty data directory added), and shrinks back to three (5, made
// leader first, and 4 removed; each must then refuse clients, saying it was
// removed). run.cc
// checks the recorded history afterwards as after any run: linearizable,
// no acknowledged write lost, one state on every member left.

#include <chrono>
#include <string>
#include <vector>

#include "tests/fault/cluster.h"
#include "tests/fault/run.h"

namespace raftkv::fault {

// Members 1-3 found the cluster; 4, 5 and 6 join. The cluster needs six
// member slots, three of them founders.
inline constexpr int kScenarioMembers = 6;
inline constexpr int kScenarioFounders = 3;

// Runs the steps, each a FaultEvent; what went wrong goes to `violations`.
std::vector<FaultEvent> run_membership_scenario(FaultCluster& cluster,
                                                std::chrono::steady_clock::time_point origin,
                                                std::vector<std::string>& violations);

}  // namespace raftkv::fault
