#include "tests/sim/simulation.h"

#include <algorithm>
#include <iostream>
#include <limits>
#include <map>

#include "raft/in_memory_snapshot_store.h"
#include "raft/in_memory_storage.h"
#include "raft/log_payloads.h"
#include "raft/snapshot_file.h"
#include "tests/checker/linearizability.h"

namespace raft::sim {

namespace {
constexpr std::uint64_t kTickInterval = 10;
}

struct Simulation::Node {
  NodeId id;
  CoreConfig config;
  std::unique_ptr<Core> core;  // null while crashed
  std::uint64_t epoch = 0;     // bumped by a crash: events of an earlier life are void
  // The simulated disk: it keeps what a completed write put there.
  InMemoryStorage disk;
  InMemorySnapshotStore snapshots;
  pb::HardState durable_hard_state;  // a copy, for the checker
  // Snapshot files being written, lost in a crash: one taken from the state
  // machine, and one received from a leader.
  std::unique_ptr<SnapshotFileWriter> taking;
  pb::SnapshotMetadata taking_snapshot;
  std::unique_ptr<SnapshotFileWriter> receiving;
  // The Ready being written; the node takes no other input until it is done,
  // as raft::Server's loop does.
  std::optional<Ready> writing;
  std::deque<Input> waiting;
  // The state machine is volatile here: every entry it applied, in order.
  // After a restart it restores the latest snapshot and replays the log.
  std::vector<pb::Entry> machine;
  Index applied = 0;
  Index recorded_commit = 0;
  bool was_leader = false;
  std::map<std::uint64_t, Index> reads;  // read id -> commit index when requested
  std::uint64_t next_read_id = 1;
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
    auto node = std::make_unique<Node>();
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
    node->core = std::make_unique<Core>(node->config);
  }
  result_.nodes = count;
}

Simulation::~Simulation() = default;

void Simulation::trace(const std::string& line) const {
  if (options_.verbose) std::cout << "[t=" << now_ << "] " << line << "\n";
}

void Simulation::schedule(std::uint64_t delay, EventKind kind, NodeId node, Input input) {
  Event event{now_ + delay, next_sequence_++, kind, node, 0, std::move(input)};
  if (node != kNoNode) event.epoch = nodes_[node - 1]->epoch;
  events_.push(std::move(event));
}

std::uint64_t Simulation::liveness_deadline() const {
  // A new leader may first have to bring a majority up to its own log: allow
  // one round trip (both ways over the slowest link, plus a disk write) per
  // window of full batches of the longest log.
  // A snapshot costs a round trip per chunk.
  Index longest = 0;
  std::uint64_t largest_snapshot = 0;
  for (const auto& node : nodes_) {
    longest = std::max<Index>(longest, node->core->log().last_index());
    largest_snapshot = std::max<std::uint64_t>(largest_snapshot, node->core->snapshot().size());
  }
  const std::uint64_t round_trip = 2 * (max_delay_ + 1) + 6;
  const std::uint64_t chunks = largest_snapshot / nodes_.front()->config.max_snapshot_chunk_bytes + 1;
  return now_ + options_.liveness_bound + (longest / entries_per_round_trip_ + 1 + chunks) * round_trip;
}

bool Simulation::linked(NodeId a, NodeId b) const {
  return partition_group_[a - 1] == partition_group_[b - 1];
}

Simulation::Node* Simulation::live_leader() {
  Node* best = nullptr;
  for (auto& node : nodes_) {
    if (node->core && node->core->role() == Role::kLeader &&
        (best == nullptr || node->core->term() > best->core->term())) {
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
  for (auto& node : nodes_) {
    schedule(random_.uniform(1, kTickInterval + 1), EventKind::kInput, node->id, Tick{});
  }
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
    if (nodes_[i]->core) checker_.check_membership(*nodes_[i]->core);
    for (std::size_t j = i + 1; j < nodes_.size(); ++j) {
      if (nodes_[i]->core && nodes_[j]->core) checker_.check_logs_match(*nodes_[i]->core, *nodes_[j]->core);
    }
  }
  result_.committed_entries = checker_.committed_count();
  if (!checker_.violation()) {
    // What the clients saw must be explainable by one order of operations.
    const raftkv::checker::History h = history_.finish();
    if (getenv("DUMP_HISTORY"))
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
  Node* node = event.node != kNoNode ? nodes_[event.node - 1].get() : nullptr;
  switch (event.kind) {
    case EventKind::kInput:
      if (node->epoch != event.epoch || !node->core) return;  // sent to an earlier life
      if (std::holds_alternative<Tick>(event.input)) {
        schedule(kTickInterval, EventKind::kInput, node->id, Tick{});
      }
      deliver(*node, event.input);
      break;
    case EventKind::kDiskWrite:
      if (node->epoch == event.epoch && node->core) complete_disk_write(*node);
      break;
    case EventKind::kRestart: restart(*node); break;
    case EventKind::kSnapshotWritten:
      if (node->epoch == event.epoch && node->core) deliver(*node, SnapshotTaken{});
      break;
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

void Simulation::deliver(Node& node, Input input) {
  if (node.writing) {
    node.waiting.push_back(std::move(input));
    return;
  }
  feed(node, std::move(input));
  pump(node);
}

void Simulation::feed(Node& node, Input input) {
  Core& core = *node.core;
  if (auto* message = std::get_if<pb::Message>(&input)) {
    core.step(*message);
  } else if (std::holds_alternative<Tick>(input)) {
    core.tick();
  } else if (auto* propose = std::get_if<Propose>(&input)) {
    // A follower refuses; the client moves on.
    const Result<ProposalTicket> ticket = core.propose(propose->command);
    if (ticket.ok()) {
      history_.write_accepted(propose->write, node.id, ticket.value().index, ticket.value().term);
    } else {
      history_.write_refused(propose->write, now_);
    }
  } else if (auto* read = std::get_if<Read>(&input)) {
    node.reads[read->id] = checker_.highest_committed();
    core.read_index(read->id);
  } else if (std::holds_alternative<SnapshotTaken>(input)) {
    finish_snapshot(node);
  }
  after_input(node);
}

void Simulation::after_input(Node& node) {
  const Core& core = *node.core;
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
      if (other->core && other->core->role() == Role::kLeader) {
        checker_.check_leader_has_committed_entries(*other->core);
      }
    }
  }
}

void Simulation::pump(Node& node) {
  if (node.writing || !node.core->has_ready()) return;
  Ready ready = node.core->ready();
  checker_.on_entries_written(*node.core, ready.entries);
  if (node.core->role() == Role::kLeader) checker_.on_leader_write(*node.core, ready.entries);
  for (pb::Message& message : ready.messages) {
    if (message.has_install_snapshot() && !fill_snapshot_chunk(node, message)) continue;
    if (!fill_payloads(node, message)) continue;
    send(message);
  }
  node.writing = std::move(ready);
  schedule(random_.uniform(1, 6), EventKind::kDiskWrite, node.id);
}

void Simulation::complete_disk_write(Node& node) {
  Ready ready = std::move(*node.writing);
  node.writing.reset();
  const std::vector<std::pair<Index, bool>> received = receive_snapshot_chunks(node, ready);
  persist(node, ready);
  if (ready.snapshot) {
    restore_machine(node, *ready.snapshot);
    ++result_.snapshots_installed;
  }
  for (const pb::Message& message : ready.messages_after_persist) send(message);
  for (const pb::Entry& entry : ready.committed_entries) {
    checker_.on_applied(node.id, entry, node.applied + 1);
    node.applied = entry.index();
    node.machine.push_back(entry);
  }
  for (const ReadState& read : ready.read_states) {
    history_.read_point(node.id, read.request_id, read.ok, read.index, now_);
    auto it = node.reads.find(read.request_id);
    if (it == node.reads.end()) continue;
    if (read.ok) {
      checker_.on_read(node.id, read.index, it->second);
      ++result_.reads_served;
    }
    node.reads.erase(it);
  }
  history_.applied(node.id, node.machine, now_);
  node.core->advance(ready);
  for (const auto& [index, intact] : received) node.core->snapshot_received(index, intact);
  // A leader commits as its own write completes: record that now, while the
  // entries still hold their payloads (the next Ready applies them, and the
  // payload budget may then drop them).
  after_input(node);
  maybe_take_snapshot(node);
  // Like raft::Server's loop: everything that queued up during the write is
  // fed in, then one Ready (one write) covers it all -- group commit.
  std::deque<Input> waiting = std::move(node.waiting);
  node.waiting.clear();
  for (Input& input : waiting) feed(node, std::move(input));
  pump(node);
}

void Simulation::persist(Node& node, const Ready& ready) {
  // In raft::Server's order: the installed snapshot, then entries and state.
  if (ready.snapshot && !node.disk.save_snapshot(*ready.snapshot).ok()) {
    checker_.fail_with("node " + std::to_string(node.id) + " could not record its installed snapshot");
  }
  if (ready.hard_state) {
    checker_.on_hard_state_persisted(node.id, node.durable_hard_state, *ready.hard_state);
    node.durable_hard_state = *ready.hard_state;
  }
  const Status saved = node.disk.save(ready.hard_state ? &*ready.hard_state : nullptr, ready.entries, true);
  if (!saved.ok()) checker_.fail_with("node " + std::to_string(node.id) + ": " + saved.error().to_string());
}

std::vector<std::pair<Index, bool>> Simulation::receive_snapshot_chunks(Node& node, const Ready& ready) {
  std::vector<std::pair<Index, bool>> received;
  for (const pb::InstallSnapshot& chunk : ready.snapshot_chunks) {
    const pb::SnapshotMetadata& snapshot = chunk.snapshot();
    if (chunk.offset() == 0) node.receiving = node.snapshots.create(snapshot.index()).value();
    if (!node.receiving || node.receiving->size() != chunk.offset()) {
      checker_.fail_with("node " + std::to_string(node.id) + " was handed snapshot chunk at offset " +
                         std::to_string(chunk.offset()) + " out of order");
      continue;
    }
    std::string data = chunk.data();
    if (!data.empty() && random_.chance(damage_rate_)) data[random_.uniform(0, data.size())] ^= 0x20;
    (void)node.receiving->append(data);
    if (!chunk.done()) continue;
    (void)node.receiving->commit();
    node.receiving.reset();
    const bool intact = snapshot_file::verify(node.snapshots, snapshot).ok();
    if (!intact) {
      ++result_.snapshots_damaged;
      (void)node.snapshots.remove(snapshot.index());
    }
    trace("node " + std::to_string(node.id) + " received snapshot " + std::to_string(snapshot.index()) +
          (intact ? "" : " (damaged)"));
    received.emplace_back(snapshot.index(), intact);
  }
  return received;
}

void Simulation::restore_machine(Node& node, const pb::SnapshotMetadata& snapshot) {
  snapshot_file::Decoder decoder(node.snapshots, snapshot);
  std::vector<pb::Entry> machine;
  std::string block;
  while (true) {
    Result<bool> more = decoder.next(block);
    if (!more.ok()) {
      checker_.fail_with("node " + std::to_string(node.id) + ": " + more.error().to_string());
      return;
    }
    if (!more.value()) break;
    machine.emplace_back().ParseFromString(block);
  }
  checker_.on_snapshot_restored(node.id, snapshot.index(), machine);
  node.machine = std::move(machine);
  node.applied = snapshot.index();
  trace("node " + std::to_string(node.id) + " restored snapshot " + std::to_string(snapshot.index()));
}

void Simulation::maybe_take_snapshot(Node& node) {
  if (snapshot_every_ == 0 || node.taking || node.machine.empty()) return;
  if (node.applied < node.core->snapshot().index() + snapshot_every_) return;
  // The state machine's view is taken now; writing it out takes a while,
  // and a crash meanwhile loses it.
  pb::SnapshotMetadata header;
  header.set_index(node.applied);
  header.set_term(node.machine.back().term());
  *header.mutable_configuration() = node.core->memberships().at(node.applied).configuration();
  node.taking = node.snapshots.create(node.applied).value();
  snapshot_file::Encoder encoder(*node.taking, header);
  for (const pb::Entry& entry : node.machine) (void)encoder.write(entry.SerializeAsString());
  node.taking_snapshot = encoder.finish().value();
  schedule(random_.uniform(1, 200), EventKind::kSnapshotWritten, node.id);
}

void Simulation::finish_snapshot(Node& node) {
  std::unique_ptr<SnapshotFileWriter> writer = std::move(node.taking);
  const pb::SnapshotMetadata snapshot = node.taking_snapshot;
  Core& core = *node.core;
  if (!writer || snapshot.index() <= core.snapshot().index()) return;  // a newer one was installed
  (void)writer->commit();
  ++result_.snapshots_taken;
  (void)node.disk.save_snapshot(snapshot);
  core.compact(snapshot, snapshot.index() > compaction_margin_ ? snapshot.index() - compaction_margin_ : 0);
  (void)node.disk.compact(core.log().base_index());
  (void)node.snapshots.remove_before(snapshot.index());
  trace("node " + std::to_string(node.id) + " took snapshot " + std::to_string(snapshot.index()) +
        ", log now starts at " + std::to_string(core.log().first_index()));
}

bool Simulation::fill_snapshot_chunk(Node& node, pb::Message& message) {
  pb::InstallSnapshot* chunk = message.mutable_install_snapshot();
  // A chunk announced before a newer snapshot replaced this one is dropped,
  // as raft::Server does; the leader's next heartbeat starts the newer one.
  if (chunk->snapshot().index() < node.core->snapshot().index()) return false;
  const std::uint64_t end = snapshot_chunk_end(node.config, chunk->offset(), chunk->snapshot().size());
  Result<std::string> bytes =
      node.snapshots.read(chunk->snapshot().index(), chunk->offset(), end - chunk->offset());
  if (!bytes.ok() || bytes.value().size() != end - chunk->offset()) {
    checker_.fail_with("node " + std::to_string(node.id) + " sends snapshot " +
                       std::to_string(chunk->snapshot().index()) + " that it does not hold");
    return false;
  }
  chunk->set_data(std::move(bytes).value());
  return true;
}

bool Simulation::fill_payloads(Node& node, pb::Message& message) {
  const Index before = message.has_append_entries() && message.append_entries().entries_size() > 0
                           ? message.append_entries().entries(0).index()
                           : 0;
  Result<PayloadFill> filled = fill_dropped_payloads(message, node.core->log().payloads_from(),
                                                     node.core->log().base_index(), node.disk);
  if (!filled.ok()) {
    checker_.fail_with("node " + std::to_string(node.id) +
                       " cannot fill in an AppendEntries from its disk: " + filled.error().message);
    return false;
  }
  if (before != 0 && before < node.core->log().payloads_from()) ++result_.payloads_filled;
  return filled.value() == PayloadFill::kReady;
}

void Simulation::send(const pb::Message& message) {
  if (options_.verbose) {
    trace("send " + std::to_string(message.from()) + "->" + std::to_string(message.to()) + " term " +
          std::to_string(message.term()) + " " + message.ShortDebugString().substr(0, 200));
  }
  if (!linked(message.from(), message.to())) return;
  if (random_.chance(drop_rate_)) return;
  // Independent random delays reorder messages unless links are FIFO;
  // duplicates arrive twice.
  const int copies = random_.chance(duplicate_rate_) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    ++result_.messages_delivered;
    std::uint64_t delay = random_.uniform(1, max_delay_ + 1);
    if (fifo_links_) {
      std::uint64_t& busy_until = link_busy_until_[{message.from(), message.to()}];
      delay = std::max(now_ + delay, busy_until) - now_;
      busy_until = now_ + delay;
    }
    schedule(delay, EventKind::kInput, message.to(), message);
  }
}

// ----------------------------------------------------------------- faults --

void Simulation::crash(Node& node) {
  if (!node.core) return;
  trace("crash node " + std::to_string(node.id));
  ++result_.crashes;
  // A write in progress either reached the disk or did not; nothing it would
  // have released afterwards (acknowledgements, applies) happened.
  if (node.writing && random_.chance(0.5)) persist(node, *node.writing);
  node.core.reset();
  node.writing.reset();
  node.taking.reset();
  node.receiving.reset();
  node.waiting.clear();
  node.reads.clear();
  history_.crashed(node.id);
  node.was_leader = false;
  ++node.epoch;
}

void Simulation::restart(Node& node) {
  if (node.core) return;
  trace("restart node " + std::to_string(node.id));
  PersistentState state = node.disk.load().value();
  node.machine.clear();
  node.applied = 0;
  if (state.snapshot.index() > 0) restore_machine(node, state.snapshot);
  (void)node.snapshots.remove_all_except(state.snapshot.index());
  RestoredState restored;
  restored.hard_state = state.hard_state;
  restored.snapshot = state.snapshot;
  restored.log_base = state.log_base;
  restored.entries = std::move(state.entries);
  restored.applied = node.applied;  // the state machine replays the log after it
  node.core = std::make_unique<Core>(node.config, std::move(restored));
  node.recorded_commit = 0;
  schedule(random_.uniform(1, kTickInterval + 1), EventKind::kInput, node.id, Tick{});
}

void Simulation::inject_fault() {
  const std::size_t count = nodes_.size();
  switch (random_.uniform(0, 6)) {
    case 0:
    case 1: {  // crash a node (a leader half of the time), restart it later
      Node* victim = live_leader();
      if (victim == nullptr || random_.chance(0.5)) victim = nodes_[random_.uniform(0, count)].get();
      if (!victim->core) break;
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
      if (Node* leader = live_leader()) {
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
  Node* leader = live_leader();
  if (leader == nullptr || leader->writing) return;
  const Membership& membership = leader->core->membership();
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
  const Result<ProposalTicket> ticket = leader->core->change_membership(change);
  trace("leader " + std::to_string(leader->id) + ": " + std::string(to_string(change.kind)) + " node " +
        std::to_string(change.node) + ": " + (ticket.ok() ? "proposed" : ticket.error().message));
  ++(ticket.ok() ? result_.membership_changes : result_.membership_refusals);
  after_input(*leader);
  pump(*leader);
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
  Node* target = live_leader();
  if (target == nullptr || random_.chance(0.2)) target = nodes_[random_.uniform(0, nodes_.size())].get();
  if (!target->core) return;
  // A few keys, so that reads and writes of one key often overlap.
  const std::string key = "k" + std::to_string(random_.uniform(0, 3));
  if (random_.chance(0.25)) {
    const std::uint64_t id = target->next_read_id++;
    history_.invoke_read(target->id, id, key, now_);
    deliver(*target, Read{id});
  } else {
    auto [write, command] = history_.invoke_write(target->id, key, now_);
    deliver(*target, Propose{std::move(command), write});
  }
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
