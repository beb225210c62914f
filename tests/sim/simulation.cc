#include "tests/sim/simulation.h"

#include <algorithm>
#include <iostream>
#include <map>

namespace raft::sim {

namespace {
constexpr std::uint64_t kTickInterval = 10;
}

struct Simulation::Node {
  NodeId id;
  CoreConfig config;
  std::unique_ptr<Core> core;  // null while crashed
  std::uint64_t epoch = 0;     // bumped by a crash: events of an earlier life are void
  // What the simulated disk holds.
  pb::HardState durable_hard_state;
  std::vector<pb::Entry> durable_log;
  // The Ready being written; the node takes no other input until it is done,
  // as raft::Server's loop does.
  std::optional<Ready> writing;
  std::deque<Input> waiting;
  // The state machine is volatile here: after a restart it replays the log.
  Index applied = 0;
  Index recorded_commit = 0;
  bool was_leader = false;
  std::map<std::uint64_t, Index> reads;  // read id -> commit index when requested
  std::uint64_t next_read_id = 1;
};

Simulation::Simulation(SimulationOptions options)
    : options_(options), random_(options.seed * 0x2545f4914f6cdd1dULL + 1) {
  const std::size_t count = options_.nodes != 0 ? options_.nodes : (options_.seed % 2 == 0 ? 5 : 3);
  std::vector<NodeId> voters;
  for (NodeId id = 1; id <= count; ++id) voters.push_back(id);
  // The cluster's configuration is drawn from the seed as well, so that
  // both the plain Figure 2 algorithm and its extensions are exercised.
  const bool extensions = random_.chance(0.8);
  const std::size_t window = random_.uniform(1, 9);
  const std::size_t batch = random_.uniform(1, 65);
  entries_per_round_trip_ = window * batch;
  for (NodeId id : voters) {
    auto node = std::make_unique<Node>();
    node->id = id;
    node->config.id = id;
    node->config.voters = voters;
    node->config.election_ticks = 10;
    node->config.heartbeat_ticks = 2;
    node->config.pre_vote = extensions;
    node->config.check_quorum = extensions;
    node->config.max_inflight_appends = window;
    node->config.max_entries_per_append = batch;
    node->config.max_bytes_per_append = 4096;
    node->config.random_seed = random_.next();
    node->core = std::make_unique<Core>(node->config);
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
  Index longest = 0;
  for (const auto& node : nodes_) longest = std::max<Index>(longest, node->core->log().last_index());
  const std::uint64_t round_trip = 2 * (max_delay_ + 1) + 6;
  return now_ + options_.liveness_bound + (longest / entries_per_round_trip_ + 1) * round_trip;
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
        (fifo_links_ ? "yes" : "no") + ", chaos " + std::to_string(options_.chaos_duration));
  for (auto& node : nodes_) {
    schedule(random_.uniform(1, kTickInterval + 1), EventKind::kInput, node->id, Tick{});
  }
  schedule(random_.uniform(100, 400), EventKind::kFault);
  schedule(random_.uniform(20, 60), EventKind::kClient);

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
    for (std::size_t j = i + 1; j < nodes_.size(); ++j) {
      if (nodes_[i]->core && nodes_[j]->core) checker_.check_logs_match(*nodes_[i]->core, *nodes_[j]->core);
    }
  }
  result_.committed_entries = checker_.committed_count();
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
    (void)core.propose(propose->command);  // a follower refuses; the client moves on
  } else if (auto* read = std::get_if<Read>(&input)) {
    node.reads[read->id] = checker_.highest_committed();
    core.read_index(read->id);
  }
  after_input(node);
}

void Simulation::after_input(Node& node) {
  const Core& core = *node.core;
  const bool leader = core.role() == Role::kLeader;
  if (leader && !node.was_leader) {
    trace("node " + std::to_string(node.id) + " leads term " + std::to_string(core.term()));
    checker_.on_leader(node.id, core);
    checker_.check_leader_has_committed_entries(core);
  }
  node.was_leader = leader;
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
  for (const pb::Message& message : ready.messages) send(message);
  node.writing = std::move(ready);
  schedule(random_.uniform(1, 6), EventKind::kDiskWrite, node.id);
}

void Simulation::complete_disk_write(Node& node) {
  Ready ready = std::move(*node.writing);
  node.writing.reset();
  persist(node, ready);
  for (const pb::Message& message : ready.messages_after_persist) send(message);
  for (const pb::Entry& entry : ready.committed_entries) {
    checker_.on_applied(node.id, entry, node.applied + 1);
    node.applied = entry.index();
  }
  for (const ReadState& read : ready.read_states) {
    auto it = node.reads.find(read.request_id);
    if (it == node.reads.end()) continue;
    if (read.ok) {
      checker_.on_read(node.id, read.index, it->second);
      ++result_.reads_served;
    }
    node.reads.erase(it);
  }
  node.core->advance(ready);
  // Like raft::Server's loop: everything that queued up during the write is
  // fed in, then one Ready (one write) covers it all -- group commit.
  std::deque<Input> waiting = std::move(node.waiting);
  node.waiting.clear();
  for (Input& input : waiting) feed(node, std::move(input));
  pump(node);
}

void Simulation::persist(Node& node, const Ready& ready) {
  if (ready.hard_state) {
    checker_.on_hard_state_persisted(node.id, node.durable_hard_state, *ready.hard_state);
    node.durable_hard_state = *ready.hard_state;
  }
  if (!ready.entries.empty()) {
    // Replace the stored log from the first written index on.
    const Index first = ready.entries.front().index();
    node.durable_log.resize(std::min<std::size_t>(node.durable_log.size(), first - 1));
    node.durable_log.insert(node.durable_log.end(), ready.entries.begin(), ready.entries.end());
  }
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
  node.waiting.clear();
  node.reads.clear();
  node.was_leader = false;
  ++node.epoch;
}

void Simulation::restart(Node& node) {
  if (node.core) return;
  trace("restart node " + std::to_string(node.id));
  RestoredState restored;
  restored.hard_state = node.durable_hard_state;
  restored.entries = node.durable_log;
  restored.applied = 0;  // the simulated state machine replays from the start
  node.core = std::make_unique<Core>(node.config, std::move(restored));
  node.applied = 0;
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

void Simulation::heal_everything() {
  healing_ = true;
  trace("heal everything");
  std::fill(partition_group_.begin(), partition_group_.end(), 0);
  drop_rate_ = 0;
  duplicate_rate_ = 0;
  fifo_links_ = true;
  for (auto& node : nodes_) restart(*node);
}

void Simulation::client_request() {
  // Clients propose to the leader when one is known, and sometimes to a
  // random node (which refuses unless it leads); they also read.
  Node* target = live_leader();
  if (target == nullptr || random_.chance(0.2)) target = nodes_[random_.uniform(0, nodes_.size())].get();
  if (!target->core) return;
  if (random_.chance(0.25)) {
    deliver(*target, Read{target->next_read_id++});
  } else {
    deliver(*target, Propose{"cmd-" + std::to_string(++commands_)});
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
