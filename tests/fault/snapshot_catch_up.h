#pragma once
// Every run must take the path of a member that fell too far behind: the
// nemesis's faults make it likely, this makes it certain. With the clients
// still writing, a follower is killed, the leader's log is compacted past
// everything the follower holds, and the follower is started again: it can
// only catch up by InstallSnapshot, and its log must say it did. A cluster
// that never compacts its log, or a follower that never installs, is a
// violation (Check::kCoverage): the run would otherwise pass without
// having tested either.

#include <chrono>
#include <string>
#include <vector>

#include "tests/fault/cluster.h"
#include "tests/fault/run.h"

namespace raftkv::fault {

// The step, as a fault on the run's timeline; what went wrong is appended
// to `violations`.
FaultEvent catch_up_by_snapshot(FaultCluster& cluster, std::chrono::steady_clock::time_point origin,
                                std::vector<Violation>& violations);

// How many times the members' logs say they installed a snapshot sent by
// a leader (every start of every member, as the logs keep them).
std::size_t count_snapshot_installs(const FaultCluster& cluster);

}  // namespace raftkv::fault
