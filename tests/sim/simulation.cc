#include "tests/sim/simulation.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <memory>

#include "raft/applier.h"
#include "raft/disk_writer.h"
#include "raft/in_memory_snapshot_store.h"
#include "tests/checker/linearizability.h"
#include "tests/sim/sim_machine.h"
#include "tests/sim/simulated_storage.h"

namespace raft::sim {

namespace {

// One time unit of the simulation is a millisecond of the Node's clock.
constexpr std::uint64_t kTickInterval = 10;

NodeTime at(std::uint64_t time) {
  return NodeTime(std::chrono::milliseconds(time));
}

}  // namespace

// One simulated machine: its disk and snapshot files survive a crash; the
// Node, its DiskWriter, its Applier and its state machine do not.
struct Simulation::SimNode {
  NodeId id;
  CoreConfig config;
  std::uint64_t epoch = 0;  // bumped by a crash: events of an earlier life are void
  SimulatedStorage disk;
  InMemorySnapshotStore snapshots;
  pb::HardState durable_hard_state;  // a copy, for the checker

  std::unique_ptr<raft::Node> node;  // null while crashed
  std::unique_ptr<DiskWriter> writer;
  std::unique_ptr<SimMachine> machine;
  std::unique_ptr<Applier> applier;
  // The disk write in flight: done (in memory) at once, completed -- synced
  // when asked, and reported to the node -- after a simulated latency.
  std::optional<DiskWrite> write;
  std::optional<DiskWriteResult> write_result;
  // A snapshot of the state machine being written out, lost in a crash.
  std::optional<EncodedSnapshot> taking;
  Index recorded_commit = 0;
  bool was_leader = false;
};

Simulation::Simulation(SimulationOptions options)
    : options_(options),
      random_(options.seed * 0x2545f4914f6cdd1dULL + 1),
      membership_random_(options.seed * 0x9e3779b97f4a7c15ULL + 7) {
  founders_ = options_.nodes != 0 ? options_.nodes : (options_.seed % 2 == 0 ? 5 : 3);
  // The cluster's configuration is drawn from the seed as well, so that
  // both the plain Figure 2 algorithm and its extensions are exercised.
  const bool extensions = random_.chance(0.8);
  // Membership changes need the extensions: without check-quorum's lease,
  // a removed server that never learns of its removal keeps deposing the
  // leader with higher terms (dissertation §4.2.3) -- safe, but not live.
  membership_changes_ = membership_random_.chance(0.5) && extensions;
  const std::size_t count = founders_ + (membership_changes_ ? 3 : 0);
  std::vector<NodeId> voters;
  for (NodeId id = 1; id <= founders_; ++id) voters.push_back(id);
  const std::size_t window = random_.uniform(1, 9);
  const std::size_t batch = random_.uniform(1, 65);
  entries_per_round_trip_ = window * batch;
  for (NodeId id = 1; id <= count; ++id) {
    auto node = std::make_unique<SimNode>();
    node->id = id;
    node->config.id = id;
    // Spare nodes start empty, as a node joining an existing cluster does.
    if (id <= founders_) node->config.voters = voters;
    node->config.election_ticks = 10;
    node->config.heartbeat_ticks = 2;
    node->config.pre_vote = extensions;
    node->config.check_quorum = extensions;
    node->config.max_inflight_appends = window;
    node->config.max_entries_per_append = batch;
    node->config.max_bytes_per_append = 4096;
    node->config.random_seed = random_.next();
    nodes_.push_back(std::move(node));
  }
  partition_group_.assign(count, 0);
  max_delay_ = random_.uniform(2, 40);
  drop_rate_ = random_.chance(0.5) ? 0.0 : 0.1 * static_cast<double>(random_.uniform(0, 100)) / 100.0;
  duplicate_rate_ = random_.chance(0.5) ? 0.0 : 0.05;
  // Some seeds are storms of faults, some long calm stretches; some have
  // clients hammering, others trickling.
  fifo_links_ = random_.chance(0.5);
  max_fault_gap_ = random_.uniform(100, 800);
  max_client_gap_ = random_.uniform(5, 80);
  if (options_.chaos_duration == 0) options_.chaos_duration = random_.uniform(2000, 8001);
  // Three seeds in four take snapshots, from very often (every 5 entries)
  // to rarely; chunks are small so that transfers take many of them.
  snapshot_every_ = random_.chance(0.25) ? 0 : random_.uniform(5, 200);
  compaction_margin_ = random_.chance(0.5) ? 0 : random_.uniform(1, 50);
  damage_rate_ = random_.chance(0.5) ? 0.0 : 0.02;
  const std::size_t chunk_bytes = random_.uniform(16, 1025);
  // Half the seeds keep every payload in memory; the others drop the
  // payloads of applied entries beyond a budget of 0 to 2 KiB, so that
  // AppendEntries to lagging followers are filled in from the disk.
  const std::size_t payload_cache =
      random_.chance(0.5) ? std::numeric_limits<std::size_t>::max() : random_.uniform(0, 2049);
  for (auto& node : nodes_) {
    node->config.max_snapshot_chunk_bytes = chunk_bytes;
    node->config.log_payload_cache_bytes = payload_cache;
  }
  result_.nodes = count;
}

Simulation::~Simulation() = default;

void Simulation::trace(const std::string& line) const {
  if (options_.verbose) std::cout << "[t=" << now_ << "] " << line << "\n";
}

void Simulation::schedule(std::uint64_t delay, EventKind kind, NodeId node, pb::Message message) {
  const std::uint64_t epoch = node != kNoNode ? nodes_[node - 1]->epoch : 0;
  events_.push(Event{now_ + delay, next_sequence_++, kind, node, epoch, std::move(message)});
}

std::uint64_t Simulation::liveness_deadline() const {
  // A new leader may first have to bring a majority up to its own log: allow
  // one round trip (both ways over the slowest link, plus a disk write) per
  // window of full batches of the longest log.
  // A snapshot costs a round trip per chunk.
  Index longest = 0;
  std::uint64_t largest_snapshot = 0;
  for (const auto& node : nodes_) {
    if (!node->node) continue;
    longest = std::max<Index>(longest, node->node->core().log().last_index());
    largest_snapshot = std::max<std::uint64_t>(largest_snapshot, node->node->core().snapshot().size());
  }
  const std::uint64_t round_trip = 2 * (max_delay_ + 1) + 6;
  const std::uint64_t chunks = largest_snapshot / nodes_.front()->config.max_snapshot_chunk_bytes + 1;
  return now_ + options_.liveness_bound + (longest / entries_per_round_trip_ + 1 + chunks) * round_trip;
}

bool Simulation::linked(NodeId a, NodeId b) const {
  return partition_group_[a - 1] == partition_group_[b - 1];
}

Simulation::SimNode* Simulation::live_leader() {
  SimNode* best = nullptr;
  for (auto& node : nodes_) {
    if (node->node && node->node->core().role() == Role::kLeader &&
        (best == nullptr || node->node->core().term() > best->node->core().term())) {
      best = node.get();
    }
  }
  return best;
}

// -------------------------------------------------------------- the loop --

SimulationResult Simulation::run() {
  const CoreConfig& config = nodes_.front()->config;
  trace("config: " + std::to_string(nodes_.size()) + " nodes, pre-vote/check-quorum " +
        (config.pre_vote ? "on" : "off") + ", window " + std::to_string(config.max_inflight_appends) +
        ", batch " + std::to_string(config.max_entries_per_append) + ", max delay " +
        std::to_string(max_delay_) + ", drop " + std::to_string(drop_rate_) + ", fifo " +
        (fifo_links_ ? "yes" : "no") + ", chaos " + std::to_string(options_.chaos_duration) +
        ", snapshot every " + std::to_string(snapshot_every_) + " (margin " +
        std::to_string(compaction_margin_) + ", chunks of " +
        std::to_string(config.max_snapshot_chunk_bytes) + " bytes), payload cache " +
        (config.log_payload_cache_bytes == std::numeric_limits<std::size_t>::max()
             ? std::string("unbounded")
             : std::to_string(config.log_payload_cache_bytes) + " bytes"));
  for (auto& node : nodes_) restart(*node);
  schedule(random_.uniform(100, 400), EventKind::kFault);
  schedule(random_.uniform(20, 60), EventKind::kClient);
  if (membership_changes_) schedule(membership_random_.uniform(50, 300), EventKind::kMembership);

  std::uint64_t healed_at = 0;
  Index commit_before_heal = 0;
  bool recovered = false;
  std::uint64_t end = UINT64_MAX;
  while (!events_.empty() && !checker_.violation()) {
    Event event = events_.top();
    events_.pop();
    now_ = event.time;
    if (!healing_ && now_ >= options_.chaos_duration) {
      heal_everything();
      healed_at = now_;
      commit_before_heal = checker_.highest_committed();
      end = liveness_deadline();
    }
    if (healing_ && checker_.highest_committed() > commit_before_heal && live_leader() != nullptr) {
      // Liveness: a leader was elected and a new entry committed after healing.
      result_.liveness_time = now_ - healed_at;
      recovered = true;
      break;
    }
    if (now_ > end) break;
    ++result_.steps;
    handle(event);
  }

  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->node) checker_.check_membership(nodes_[i]->node->core());
    for (std::size_t j = i + 1; j < nodes_.size(); ++j) {
      if (nodes_[i]->node && nodes_[j]->node) {
        checker_.check_logs_match(nodes_[i]->node->core(), nodes_[j]->node->core());
      }
    }
  }
  result_.committed_entries = checker_.committed_count();
  if (!checker_.violation()) {
    // What the clients saw must be explainable by one order of operations.
    const raftkv::checker::History h = history_.finish();
    if (std::getenv("DUMP_HISTORY"))
      for (const auto& op : h) std::cerr << raftkv::checker::describe(op) << "\n";
    const raftkv::checker::Verdict verdict = raftkv::checker::check_linearizable(h);
    result_.client_operations = history_.size();
    if (!verdict.linearizable) {
      checker_.fail_with("Linearizability of the clients' history (" + std::to_string(history_.size()) +
                         " operations):\n" + verdict.explain());
    }
  }
  if (checker_.violation()) {
    result_.failure = *checker_.violation();
  } else if (!recovered) {
    result_.failure = "Liveness: no leader committed a new entry within " + std::to_string(end - healed_at) +
                      " time units of healing";
  } else {
    result_.passed = true;
  }
  return result_;
}

void Simulation::handle(const Event& event) {
  SimNode* node = event.node != kNoNode ? nodes_[event.node - 1].get() : nullptr;
  const bool alive = node != nullptr && node->epoch == event.epoch && node->node;
  switch (event.kind) {
    case EventKind::kTick:
      if (!alive) return;  // a tick of an earlier life
      schedule(kTickInterval, EventKind::kTick, node->id);
      node->node->advance_time(at(now_));
      drain(*node);
      break;
    case EventKind::kMessage:
      if (!alive) return;
      node->node->receive(event.message);
      drain(*node);
      break;
    case EventKind::kDiskWrite:
      if (alive) complete_disk_write(*node);
      break;
    case EventKind::kSnapshotWritten:
      if (alive) finish_snapshot(*node);
      break;
    case EventKind::kRestart: restart(*node); break;
    case EventKind::kFault:
      if (!healing_) {
        inject_fault();
        schedule(random_.uniform(20, max_fault_gap_), EventKind::kFault);
      }
      break;
    case EventKind::kClient:
      client_request();
      schedule(random_.uniform(1, max_client_gap_), EventKind::kClient);
      break;
    case EventKind::kMembership:
      if (!healing_) {
        change_membership();
        schedule(membership_random_.uniform(50, 600), EventKind::kMembership);
      }
      break;
  }
}

// ------------------------------------------------------- one node's work --

void Simulation::drain(SimNode& node) {
  while (node.node && node.node->has_output()) {
    NodeOutput output = node.node->take_output();
    const Core& core = node.node->core();
    for (const auto& [warning, line] : output.log) {
      trace("node " + std::to_string(node.id) + ": " + line);
      // A leader asked to send a snapshot file it does not hold.
      if (line.rfind("cannot read snapshot", 0) == 0)
        checker_.fail_with("node " + std::to_string(node.id) + ": " + line);
    }
    for (pb::Message& message : output.messages) {
      if (message.has_append_entries() && message.append_entries().entries_size() > 0 &&
          message.append_entries().entries(0).index() < core.log().payloads_from()) {
        ++result_.payloads_filled;
      }
      send(std::move(message));
    }
    for (ApplyWork& work : output.apply) {
      if (work.restore) ++result_.snapshots_installed;
      if (Status applied = node.applier->apply(std::move(work)); !applied.ok()) {
        checker_.fail_with("node " + std::to_string(node.id) + ": " + applied.error().to_string());
      }
    }
    if (output.write) {
      const DiskWrite& write = *output.write;
      checker_.on_entries_written(core, write.entries);
      if (core.role() == Role::kLeader) checker_.on_leader_write(core, write.entries);
      std::vector<std::string> notes;
      node.write_result = node.writer->write(write, notes);
      for (const std::string& note : notes) trace("node " + std::to_string(node.id) + ": " + note);
      for (const auto& [index, intact] : node.write_result->snapshots_received) {
        if (!intact) ++result_.snapshots_damaged;
      }
      node.write = std::move(output.write);
      schedule(random_.uniform(1, 6), EventKind::kDiskWrite, node.id);
    }
    after_step(node);
    if (!node.taking) start_snapshot(node);
  }
  if (node.node && node.node->failed() && !checker_.violation()) {
    checker_.fail_with("node " + std::to_string(node.id) +
                       " stopped: " + node.node->stop_reason()->to_string());
  }
}

void Simulation::after_step(SimNode& node) {
  const Core& core = node.node->core();
  if (std::string broken = node.node->check_invariants(); !broken.empty()) {
    checker_.fail_with("node " + std::to_string(node.id) + ": " + broken);
  }
  const bool leader = core.role() == Role::kLeader;
  if (leader && !node.was_leader) {
    trace("node " + std::to_string(node.id) + " leads term " + std::to_string(core.term()) + " with " +
          core.membership().describe());
    checker_.on_leader(node.id, core);
    checker_.check_membership(core);
    checker_.check_leader_has_committed_entries(core);
  }
  node.was_leader = leader;
  if (membership_changes_) {
    const Membership& committed = core.memberships().at(core.log().committed());
    ever_members_.insert(committed.voters().begin(), committed.voters().end());
    ever_members_.insert(committed.learners().begin(), committed.learners().end());
  }
  if (core.log().committed() > node.recorded_commit) {
    trace("node " + std::to_string(node.id) + " commits up to " + std::to_string(core.log().committed()));
    checker_.on_committed(core, node.recorded_commit + 1, core.log().committed());
    node.recorded_commit = core.log().committed();
    for (auto& other : nodes_) {
      if (other->node && other->node->core().role() == Role::kLeader) {
        checker_.check_leader_has_committed_entries(other->node->core());
      }
    }
  }
}

void Simulation::complete_disk_write(SimNode& node) {
  if (!node.write_result) return;
  DiskWriteResult result = std::move(*node.write_result);
  const DiskWrite write = std::move(*node.write);
  node.write_result.reset();
  node.write.reset();
  if (write.sync) {
    node.disk.sync();
    const pb::HardState durable = node.disk.durable().value().hard_state;
    checker_.on_hard_state_persisted(node.id, node.durable_hard_state, durable);
    node.durable_hard_state = durable;
    if (result.status.ok()) {
      std::vector<std::string> notes;
      node.writer->completed(write, notes);
    }
  }
  node.node->write_done(std::move(result));
  drain(node);
}

void Simulation::start_snapshot(SimNode& node) {
  std::optional<SnapshotJob> job = node.applier->snapshot_if_due();
  if (!job) return;
  // The view is taken now; writing it out takes a while, and a crash
  // meanwhile loses it.
  Result<EncodedSnapshot> encoded = encode_snapshot(node.snapshots, *job);
  if (!encoded.ok()) {
    checker_.fail_with("node " + std::to_string(node.id) + ": " + encoded.error().to_string());
    return;
  }
  node.taking = std::move(encoded).value();
  schedule(random_.uniform(1, 200), EventKind::kSnapshotWritten, node.id);
}

void Simulation::finish_snapshot(SimNode& node) {
  EncodedSnapshot snapshot = std::move(*node.taking);
  node.taking.reset();
  node.applier->snapshot_done();
  if (Status committed = snapshot.file->commit(); !committed.ok()) {
    checker_.fail_with("node " + std::to_string(node.id) + ": " + committed.error().to_string());
    return;
  }
  ++result_.snapshots_taken;
  trace("node " + std::to_string(node.id) + " took snapshot " + std::to_string(snapshot.metadata.index()));
  node.node->snapshot_taken(snapshot.metadata);
  drain(node);
}

void Simulation::send(pb::Message message) {
  if (options_.verbose) {
    trace("send " + std::to_string(message.from()) + "->" + std::to_string(message.to()) + " term " +
          std::to_string(message.term()) + " " + message.ShortDebugString().substr(0, 200));
  }
  if (!linked(message.from(), message.to())) return;
  if (random_.chance(drop_rate_)) return;
  // Independent random delays reorder messages unless links are FIFO;
  // duplicates arrive twice; snapshot chunks sometimes arrive damaged.
  const int copies = random_.chance(duplicate_rate_) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    ++result_.messages_delivered;
    std::uint64_t delay = random_.uniform(1, max_delay_ + 1);
    if (fifo_links_) {
      std::uint64_t& busy_until = link_busy_until_[{message.from(), message.to()}];
      delay = std::max(now_ + delay, busy_until) - now_;
      busy_until = now_ + delay;
    }
    pb::Message copy = message;
    if (copy.has_install_snapshot() && !copy.install_snapshot().data().empty() &&
        random_.chance(damage_rate_)) {
      std::string& data = *copy.mutable_install_snapshot()->mutable_data();
      data[random_.uniform(0, data.size())] ^= 0x20;
    }
    const NodeId to = copy.to();  // (before the message is moved into the event)
    schedule(delay, EventKind::kMessage, to, std::move(copy));
  }
}

// ----------------------------------------------------------------- faults --

void Simulation::crash(SimNode& node) {
  if (!node.node) return;
  trace("crash node " + std::to_string(node.id));
  ++result_.crashes;
  // The power fails: what was synced stays, and of the writes since only
  // as many as reached the disk in order -- the one in flight among them,
  // whole or not at all. Nothing the node would have done after its write
  // (acknowledgements, applies) happened; its state machine is gone.
  node.disk.crash(random_.uniform(0, node.disk.unsynced_writes() + 1));
  const pb::HardState durable = node.disk.durable().value().hard_state;
  checker_.on_hard_state_persisted(node.id, node.durable_hard_state, durable);
  node.durable_hard_state = durable;
  // Callbacks of requests pending on the node are dropped uncalled: their
  // clients never hear, and their outcomes stay unknown.
  node.node.reset();
  node.writer.reset();
  node.applier.reset();
  node.machine.reset();
  node.write_result.reset();
  node.write.reset();
  node.taking.reset();
  node.was_leader = false;
  ++node.epoch;
}

void Simulation::restart(SimNode& node) {
  if (node.node) return;
  trace("restart node " + std::to_string(node.id));
  node.machine = std::make_unique<SimMachine>();
  const PersistentState state = node.disk.load().value();
  const pb::SnapshotMetadata snapshot = state.snapshot;
  Result<RestoredState> recovered = recover(state, *node.machine, node.snapshots);
  if (!recovered.ok()) {
    checker_.fail_with("node " + std::to_string(node.id) +
                       " cannot restart: " + recovered.error().to_string());
    return;
  }
  if (snapshot.index() > 0) checker_.on_snapshot_restored(node.id, snapshot.index(), node.machine->entries());
  NodeOptions options;
  options.core = node.config;
  options.tick_interval = std::chrono::milliseconds(kTickInterval);
  options.read_timeout = std::chrono::milliseconds(4 * node.config.election_ticks * kTickInterval);
  options.transfer_timeout = std::chrono::milliseconds(6 * node.config.election_ticks * kTickInterval);
  options.compaction_margin = compaction_margin_;
  node.node = std::make_unique<raft::Node>(options, std::move(recovered).value(), node.disk, node.snapshots,
                                           at(now_));
  node.writer = std::make_unique<DiskWriter>(node.disk, node.snapshots);
  const Index applied = node.node->core().log().applied();
  node.applier =
      std::make_unique<Applier>(ApplierOptions{snapshot_every_, 0}, *node.machine, node.snapshots, snapshot,
                                node.node->core().memberships().at(applied).configuration());
  SimMachine& machine = *node.machine;
  const NodeId id = node.id;
  node.applier->on_entry_applied = [this, id, &machine](const pb::Entry& entry) {
    const Index expected = machine.entries().empty() ? 1 : machine.entries().back().index() + 1;
    checker_.on_applied(id, entry, expected);
    machine.record(entry);
  };
  node.applier->on_restored = [this, id, &machine](const pb::SnapshotMetadata& restored) {
    checker_.on_snapshot_restored(id, restored.index(), machine.entries());
    trace("node " + std::to_string(id) + " restored snapshot " + std::to_string(restored.index()));
  };
  node.recorded_commit = 0;
  schedule(random_.uniform(1, kTickInterval + 1), EventKind::kTick, node.id);
  drain(node);
}

void Simulation::inject_fault() {
  const std::size_t count = nodes_.size();
  switch (random_.uniform(0, 6)) {
    case 0:
    case 1: {  // crash a node (a leader half of the time), restart it later
      SimNode* victim = live_leader();
      if (victim == nullptr || random_.chance(0.5)) victim = nodes_[random_.uniform(0, count)].get();
      if (!victim->node) break;
      crash(*victim);
      schedule(random_.uniform(20, 800), EventKind::kRestart, victim->id);
      break;
    }
    case 2: {  // split the cluster in two at random
      ++result_.partitions;
      for (int& group : partition_group_) group = static_cast<int>(random_.uniform(0, 2));
      trace("partition");
      break;
    }
    case 3: {  // isolate the leader
      if (SimNode* leader = live_leader()) {
        ++result_.partitions;
        std::fill(partition_group_.begin(), partition_group_.end(), 0);
        partition_group_[leader->id - 1] = 1;
        trace("isolate leader " + std::to_string(leader->id));
      }
      break;
    }
    case 4:
      std::fill(partition_group_.begin(), partition_group_.end(), 0);
      trace("heal");
      break;
    case 5:
      drop_rate_ = random_.chance(0.5) ? 0.0 : 0.2 * static_cast<double>(random_.uniform(0, 100)) / 100.0;
      break;
  }
}

void Simulation::change_membership() {
  SimNode* leader = live_leader();
  if (leader == nullptr) return;
  const Membership& membership = leader->node->core().membership();
  MembershipChange change;
  const int choice = static_cast<int>(membership_random_.uniform(0, 3));
  NodeId spare = kNoNode;
  for (NodeId id = founders_ + 1; id <= nodes_.size() && spare == kNoNode; ++id) {
    if (!ever_members_.contains(id) && !membership.is_member(id)) spare = id;
  }
  if (choice == 0 && spare != kNoNode) {
    change.kind = MembershipChangeKind::kAddLearner;
    change.node = spare;
    change.address = "sim-" + std::to_string(change.node);
  } else if (choice == 1 && !membership.learners().empty()) {
    change.kind = MembershipChangeKind::kPromote;
    change.node = membership.learners()[membership_random_.uniform(0, membership.learners().size())];
  } else {
    // Any member, the leader included, as long as two voters remain.
    std::vector<NodeId> members = membership.learners();
    if (membership.voters().size() > 2) {
      members.insert(members.end(), membership.voters().begin(), membership.voters().end());
    }
    if (members.empty()) return;
    change.kind = MembershipChangeKind::kRemove;
    change.node = members[membership_random_.uniform(0, members.size())];
  }
  // A refusal is answered at once, from inside change_membership(); a
  // change the leader took is answered when it applies (or is lost).
  auto refused = std::make_shared<std::optional<std::string>>();
  auto asking = std::make_shared<bool>(true);
  leader->node->change_membership(change, [refused, asking](Result<Applied> result) {
    if (*asking && !result.ok()) *refused = result.error().message;
  });
  *asking = false;
  trace("leader " + std::to_string(leader->id) + ": " + std::string(to_string(change.kind)) + " node " +
        std::to_string(change.node) + ": " + (*refused ? **refused : std::string("proposed")));
  ++(*refused ? result_.membership_refusals : result_.membership_changes);
  drain(*leader);
}

void Simulation::heal_everything() {
  healing_ = true;
  trace("heal everything");
  std::fill(partition_group_.begin(), partition_group_.end(), 0);
  drop_rate_ = 0;
  duplicate_rate_ = 0;
  damage_rate_ = 0;  // with two voters left, one node's snapshot could otherwise hold up the cluster
  fifo_links_ = true;
  for (auto& node : nodes_) restart(*node);
}

void Simulation::client_request() {
  // Clients propose to the leader when one is known, and sometimes to a
  // random node (which refuses unless it leads); they also read.
  SimNode* target = live_leader();
  if (target == nullptr || random_.chance(0.2)) target = nodes_[random_.uniform(0, nodes_.size())].get();
  if (!target->node) return;
  // A few keys, so that reads and writes of one key often overlap.
  const std::string key = "k" + std::to_string(random_.uniform(0, 3));
  const NodeId id = target->id;
  const std::uint64_t epoch = target->epoch;
  if (random_.chance(0.25)) {
    const std::size_t read = history_.invoke_read(id, key, now_);
    const Index committed_when_requested = checker_.highest_committed();
    target->node->read_index([this, read, id, epoch, key, committed_when_requested](Result<Index> point) {
      SimNode& node = *nodes_[id - 1];
      if (!point.ok()) {
        history_.read_answered(read, false, std::nullopt, now_);
        return;
      }
      // Served once the state machine applied up to the read point: what
      // it holds now is what the client reads.
      if (node.epoch != epoch || !node.machine) return;
      checker_.on_read(id, point.value(), committed_when_requested);
      ++result_.reads_served;
      history_.read_answered(read, true, node.machine->value(key), now_);
    });
  } else {
    auto [write, command] = history_.invoke_write(id, key, now_);
    target->node->propose(
        std::move(command),
        [this, write](Result<Applied> answer) { history_.write_answered(write, answer, now_); },
        NodeTime::max());
  }
  drain(*target);
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_seed_range(const std::string& text) {
  try {
    const std::size_t dots = text.find("..");
    std::size_t used = 0;
    if (dots == std::string::npos) {
      const std::uint64_t seed = std::stoull(text, &used);
      if (used != text.size()) return std::nullopt;
      return std::make_pair(seed, seed);
    }
    const std::string low_text = text.substr(0, dots);
    const std::string high_text = text.substr(dots + 2);
    const std::uint64_t low = std::stoull(low_text, &used);
    if (used != low_text.size()) return std::nullopt;
    const std::uint64_t high = std::stoull(high_text, &used);
    if (used != high_text.size() || high < low) return std::nullopt;
    return std::make_pair(low, high);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace raft::sim
