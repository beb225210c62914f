#include "tests/fault/nemesis.h"

#include <algorithm>
#include <set>

namespace raftkv::fault {

namespace {

enum class Fault {
  kKillLeader,
  kKillMinority,
  kKillMajority,
  kKillAll,
  kPauseLeader,
  kPauseMinority,
  kPartitionMinority,
  kIsolateLeader,
  kBridge,
  kCount,
};

enum class PowerFailure {
  kLeader,
  kOne,
  kMinority,
  kAll,
  kCount,
};

}  // namespace

Nemesis::Nemesis(std::uint64_t seed, FaultCluster& cluster, FaultNetwork& network, Mode mode)
    : random_(seed), mode_(mode), cluster_(cluster), network_(network) {}

std::vector<int> Nemesis::shuffled() {
  std::vector<int> members;
  for (int member = 1; member <= cluster_.members(); ++member) members.push_back(member);
  std::shuffle(members.begin(), members.end(), random_);
  return members;
}

int Nemesis::leader_or_any() {
  // Draw first, so that the schedule does not depend on who leads.
  const int any = static_cast<int>(random_() % static_cast<std::uint64_t>(cluster_.members())) + 1;
  return cluster_.leader().value_or(any);
}

std::string Nemesis::names(const std::vector<int>& members) {
  std::string text;
  for (int member : members) text += (text.empty() ? "m" : " m") + std::to_string(member);
  return text;
}

std::string Nemesis::fail_power() {
  const auto failure =
      static_cast<PowerFailure>(random_() % static_cast<std::uint64_t>(PowerFailure::kCount));
  std::vector<int> members = shuffled();
  const int minority = 1 + static_cast<int>(random_() % 2);
  if (failure == PowerFailure::kLeader) members.front() = leader_or_any();
  const int count = failure == PowerFailure::kLeader || failure == PowerFailure::kOne ? 1
                    : failure == PowerFailure::kMinority                              ? minority
                                                                                      : cluster_.members();
  const std::vector<int> victims(members.begin(), members.begin() + count);
  for (int member : victims) cluster_.cut_power(member);
  const std::string kind = failure == PowerFailure::kLeader     ? "power loss leader"
                           : failure == PowerFailure::kOne      ? "power loss one"
                           : failure == PowerFailure::kMinority ? "power loss minority"
                                                                : "power loss all";
  ++counts_[kind];
  return kind + " " + names(victims);
}

std::string Nemesis::inject() {
  if (mode_ == Mode::kPowerLoss) return fail_power();
  const auto fault = static_cast<Fault>(random_() % static_cast<std::uint64_t>(Fault::kCount));
  const CutKind cut = random_() % 2 == 0 ? CutKind::kDrop : CutKind::kReject;
  const std::string how = cut == CutKind::kDrop ? " (dropping packets)" : " (refusing packets)";
  std::vector<int> members = shuffled();
  const int minority = 1 + static_cast<int>(random_() % 2);
  const auto first = [&](int count) { return std::vector<int>(members.begin(), members.begin() + count); };
  std::string kind;
  std::string what;
  switch (fault) {
    case Fault::kKillLeader: {
      const int leader = leader_or_any();
      cluster_.kill(leader);
      kind = "kill leader";
      what = kind + " m" + std::to_string(leader);
      break;
    }
    case Fault::kKillMinority:
    case Fault::kKillMajority:
    case Fault::kKillAll: {
      const int count = fault == Fault::kKillMinority   ? minority
                        : fault == Fault::kKillMajority ? cluster_.members() / 2 + 1
                                                        : cluster_.members();
      for (int member : first(count)) cluster_.kill(member);
      kind = fault == Fault::kKillMinority   ? "kill minority"
             : fault == Fault::kKillMajority ? "kill majority"
                                             : "kill all";
      what = kind + " " + names(first(count));
      break;
    }
    case Fault::kPauseLeader: {
      const int leader = leader_or_any();
      cluster_.pause(leader);
      kind = "pause leader";
      what = kind + " m" + std::to_string(leader);
      break;
    }
    case Fault::kPauseMinority: {
      for (int member : first(minority)) cluster_.pause(member);
      kind = "pause minority";
      what = kind + " " + names(first(minority));
      break;
    }
    case Fault::kPartitionMinority: {
      const std::vector<int> side = first(minority);
      network_.cut(std::set<int>(side.begin(), side.end()), cut);
      kind = "partition minority";
      what = kind + " " + names(side) + " | " + names({members.begin() + minority, members.end()}) + how;
      break;
    }
    case Fault::kIsolateLeader: {
      const int leader = leader_or_any();
      network_.cut({leader}, cut);
      kind = "isolate leader";
      what = kind + " m" + std::to_string(leader) + how;
      break;
    }
    case Fault::kBridge: {
      // m_a m_b <-> bridge <-> m_c m_d: each side reaches the bridge only.
      for (int a : first(2)) {
        for (int b : {members[3], members[4]}) network_.cut_pair(a, b, cut);
      }
      kind = "bridge";
      what = kind + " " + names(first(2)) + " | m" + std::to_string(members[2]) + " | " +
             names({members[3], members[4]}) + how;
      break;
    }
    case Fault::kCount: break;
  }
  ++counts_[kind];
  return what;
}

std::vector<int> Nemesis::heal() {
  network_.heal();
  return cluster_.restore_all();
}

std::chrono::milliseconds Nemesis::hold() {
  return std::chrono::milliseconds(1000 + random_() % 5000);
}

std::chrono::milliseconds Nemesis::quiet() {
  return std::chrono::milliseconds(500 + random_() % 2500);
}

}  // namespace raftkv::fault
