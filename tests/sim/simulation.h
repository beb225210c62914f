#pragma once
// A deterministic simulation of a Raft cluster: each node is the real
// raft::Node (the driver raft::Server runs, with the real raft::Core), its
// DiskWriter and its Applier, over a simulated network (delay, loss,
// duplication, reordering, partitions), simulated disks and simulated time,
// all driven by one seed. A node's log is on a SimulatedStorage, whose
// writes are volatile until synced: a crash keeps what was synced and at
// most an in-order part of the rest. Snapshot files use the real format in
// an InMemorySnapshotStore; most seeds take snapshots often and compact the
// log, so followers catch up by InstallSnapshot, crashes land in the middle
// of taking and installing snapshots, and some chunks arrive damaged. Half
// the seeds also change the membership while all that goes on: spare nodes
// join as learners and are promoted, members (the leader too) are removed.
// Every step is checked by the SafetyChecker and each node's own
// invariants (Node::check_invariants); at the end the faults heal and the
// cluster must elect a leader and commit again.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "raft/core.h"
#include "raft/node.h"
#include "raft/random.h"
#include "tests/sim/client_history.h"
#include "tests/sim/safety_checker.h"

namespace raft::sim {

struct SimulationOptions {
  std::uint64_t seed = 1;
  // 0: derived from the seed (3 or 5).
  std::size_t nodes = 0;
  // Simulated time units of fault injection (a tick is 10 units); 0 draws
  // it from the seed, between 2,000 and 8,000.
  std::uint64_t chaos_duration = 0;
  // After healing, a leader must commit a new entry within this time, plus
  // the time to replicate the backlog at one window of full batches per
  // round trip (see Simulation::liveness_deadline).
  std::uint64_t liveness_bound = 3000;
  bool verbose = false;
};

struct SimulationResult {
  bool passed = false;
  std::string failure;  // the violated property, when !passed
  std::size_t nodes = 0;
  std::uint64_t steps = 0;
  std::uint64_t messages_delivered = 0;
  std::uint64_t crashes = 0;
  std::uint64_t partitions = 0;
  std::size_t committed_entries = 0;
  std::uint64_t reads_served = 0;
  std::size_t client_operations = 0;  // checked for linearizability
  std::uint64_t snapshots_taken = 0;
  std::uint64_t snapshots_installed = 0;
  std::uint64_t snapshots_damaged = 0;
  std::uint64_t payloads_filled = 0;      // AppendEntries whose payloads were read back from disk
  std::uint64_t membership_changes = 0;   // proposed and accepted by a leader
  std::uint64_t membership_refusals = 0;  // refused (one in flight, learner behind, ...)
  std::uint64_t liveness_time = 0;        // from healing to the first new commit
};

class Simulation {
 public:
  explicit Simulation(SimulationOptions options);
  ~Simulation();
  SimulationResult run();

 private:
  struct SimNode;
  enum class EventKind {
    kTick,
    kMessage,
    kDiskWrite,
    kRestart,
    kFault,
    kClient,
    kSnapshotWritten,
    kMembership
  };
  struct Event {
    std::uint64_t time;
    std::uint64_t sequence;  // ties broken by scheduling order: deterministic
    EventKind kind;
    NodeId node = kNoNode;
    std::uint64_t epoch = 0;
    pb::Message message;  // kMessage
    bool operator>(const Event& other) const {
      return time != other.time ? time > other.time : sequence > other.sequence;
    }
  };

  void schedule(std::uint64_t delay, EventKind kind, NodeId node = kNoNode, pb::Message message = {});
  void handle(const Event& event);
  // Carries out what the node asked for (sends, applies, a disk write, a
  // snapshot), then checks it.
  void drain(SimNode& node);
  void after_step(SimNode& node);
  void complete_disk_write(SimNode& node);
  void start_snapshot(SimNode& node);
  void finish_snapshot(SimNode& node);
  void send(pb::Message message);
  void crash(SimNode& node);
  void restart(SimNode& node);
  void inject_fault();
  // Asks the leader for a membership change: add a spare node as a
  // learner, promote a learner, or remove a member.
  void change_membership();
  void client_request();
  void heal_everything();
  bool linked(NodeId a, NodeId b) const;
  std::uint64_t liveness_deadline() const;
  SimNode* live_leader();
  void trace(const std::string& line) const;

  SimulationOptions options_;
  DeterministicRandom random_;
  SafetyChecker checker_;
  ClientHistory history_;  // what the clients saw, for the linearizability checker
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::uint64_t now_ = 0;
  std::uint64_t next_sequence_ = 0;
  std::vector<int> partition_group_;  // by node index; linked when equal
  double drop_rate_ = 0;
  double duplicate_rate_ = 0;
  std::uint64_t max_delay_ = 10;
  // Per-link FIFO delivery, as over one TCP stream per peer pair; without it
  // every message gets its own delay and links reorder freely.
  bool fifo_links_ = false;
  std::map<std::pair<NodeId, NodeId>, std::uint64_t> link_busy_until_;
  std::uint64_t max_fault_gap_ = 600;  // how stormy this seed is
  std::uint64_t max_client_gap_ = 60;
  std::size_t entries_per_round_trip_ = 1;
  // Snapshots: taken every this many applied entries (0: never), keeping
  // this many entries before them; received chunks damaged at this rate.
  Index snapshot_every_ = 0;
  Index compaction_margin_ = 0;
  double damage_rate_ = 0;
  // Membership changes draw from a generator of their own, so that seeds
  // without them run exactly as they did before they existed.
  DeterministicRandom membership_random_;
  bool membership_changes_ = false;
  std::size_t founders_ = 0;  // nodes 1..founders_ found the cluster; the rest join later
  // Ids in some committed configuration so far: a spare node is added until
  // one is, and never again once removed (as raftkvd refuses to reuse ids).
  std::set<NodeId> ever_members_;
  bool healing_ = false;
  SimulationResult result_;
};

// Parses "A..B" or "N" into an inclusive range of seeds.
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_seed_range(const std::string& text);

}  // namespace raft::sim
