#pragma once
// The nemesis: from a seed, picks the faults of a run and injects them into
// the cluster and its network -- kill -9 (the leader, a minority, a
// majority, every member at once), SIGSTOP pauses (the leader, a
// minority), and partitions (a minority from a majority, the leader from
// everyone, a bridge: two pairs that only a fifth member joins), each
// partition either dropping packets silently or refusing them. heal()
// undoes all of it: partitions lifted, paused members resumed, killed ones
// restarted on their data.
//
// In power-loss mode (a cluster on power_loss_fs) the faults are power
// failures instead: of the leader, of one member, of a minority, of all
// five at once -- each member killed and its disk losing what it had not
// synced; heal() turns the power back on and restarts them.
//
// The same seed gives the same schedule of faults (which, whom, how long);
// when they land among the clients' calls is up to the machine.

#include <cstdint>
#include <map>
#include <random>
#include <string>

#include "tests/fault/cluster.h"
#include "tests/fault/network.h"

namespace raftkv::fault {

class Nemesis {
 public:
  enum class Mode { kCrashesPausesPartitions, kPowerLoss };
  Nemesis(std::uint64_t seed, FaultCluster& cluster, FaultNetwork& network,
          Mode mode = Mode::kCrashesPausesPartitions);

  // Injects the next fault; returns what it did ("kill leader m3").
  std::string inject();
  // Returns the members found to have exited by themselves (see
  // FaultCluster::restore_all).
  std::vector<int> heal();

  // How long to hold a fault, and to stay quiet after recovering.
  std::chrono::milliseconds hold();
  std::chrono::milliseconds quiet();

  // Faults injected so far, by kind.
  const std::map<std::string, int>& counts() const { return counts_; }

 private:
  std::string fail_power();
  std::vector<int> shuffled();
  int leader_or_any();
  static std::string names(const std::vector<int>& members);

  std::mt19937_64 random_;
  const Mode mode_;
  FaultCluster& cluster_;
  FaultNetwork& network_;
  std::map<std::string, int> counts_;
};

}  // namespace raftkv::fault
