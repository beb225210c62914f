#include "raft/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "raft/log_payloads.h"
#include "raft/snapshot_file.h"

namespace raft {

namespace {

// The most commands handed to StateMachine::apply_all at once.
constexpr std::size_t kMaxApplyBatch = 1024;
constexpr std::size_t kMaxApplyBatchBytes = 4 << 20;

Error stopped_error() {
  return Error{ErrorCode::kStopped, "the server is stopping"};
}

}  // namespace

Server::Server(ServerOptions options, std::shared_ptr<Storage> storage,
               std::shared_ptr<SnapshotStore> snapshots, std::shared_ptr<Transport> transport,
               std::shared_ptr<Discovery> discovery, std::shared_ptr<StateMachine> state_machine)
    : options_(options),
      read_timeout_(options.read_timeout.count() > 0
                        ? options.read_timeout
                        : 4 * options.core.election_ticks * options.tick_interval),
      transfer_timeout_(options.transfer_timeout.count() > 0
                            ? options.transfer_timeout
                            : 6 * options.core.election_ticks * options.tick_interval),
      storage_(std::move(storage)),
      snapshots_(std::move(snapshots)),
      transport_(std::move(transport)),
      discovery_(std::move(discovery)),
      state_machine_(std::move(state_machine)) {}

Server::~Server() {
  stop();
}

Status Server::start() {
  std::lock_guard lifecycle(lifecycle_mutex_);
  if (started_) return Error{ErrorCode::kInvalidArgument, "server already started"};
  const NodeId id = options_.core.id;
  if (id == kNoNode) return Error{ErrorCode::kInvalidArgument, "server id must be positive"};

  Result<std::vector<Peer>> peers = discovery_->discover();
  if (!peers.ok()) return peers.error();
  Result<PersistentState> persisted = storage_->load();
  if (!persisted.ok()) return persisted.error();
  PersistentState state = std::move(persisted).value();
  const bool fresh = state.hard_state.term() == 0 && state.entries.empty() && state.snapshot.index() == 0 &&
                     state.log_base.index() == 0;
  CoreConfig config = options_.core;
  config.voters.clear();
  if (!options_.join_existing_cluster) {
    for (const Peer& peer : peers.value()) config.voters.push_back(peer.id);
    if (fresh && std::find(config.voters.begin(), config.voters.end(), id) == config.voters.end()) {
      return Error{ErrorCode::kInvalidArgument,
                   "node " + std::to_string(id) +
                       " is not among the discovered members, so it cannot found "
                       "a cluster with them (to join one, start it as a joiner)"};
    }
    if (fresh) {
      if (Status founded = bootstrap(state, peers.value()); !founded.ok()) return founded;
    }
  }
  if (config.random_seed == 0) config.random_seed = std::random_device{}();

  if (state.snapshot.index() > state_machine_->applied_index()) {
    // The state machine is behind the latest snapshot: the node crashed
    // between recording an installed snapshot and restoring from it (or the
    // state machine's data is new). The snapshot is the way forward.
    if (Status restored = restore_state_machine(state.snapshot); !restored.ok()) return restored.error();
  }
  // Snapshots other than the latest, and files a crash left half-written.
  if (Status cleaned = snapshots_->remove_all_except(state.snapshot.index()); !cleaned.ok()) {
    return cleaned.error();
  }
  RestoredState restored;
  restored.hard_state = std::move(state.hard_state);
  restored.snapshot = state.snapshot;
  restored.log_base = std::move(state.log_base);
  restored.entries = std::move(state.entries);
  restored.applied = state_machine_->applied_index();
  last_snapshot_index_ = state.snapshot.index();
  try {
    core_ = std::make_unique<Core>(std::move(config), std::move(restored));
  } catch (const std::invalid_argument& error) {
    return Error{ErrorCode::kInvalidArgument, error.what()};
  }
  applied_index_ = core_->log().applied();
  applied_configuration_ = core_->memberships().at(core_->log().applied()).configuration();

  {
    std::lock_guard lock(peers_mutex_);
    discovered_ = peers.value();
  }
  note_membership();
  transport_->start(id, [this](pb::Message message) { enqueue(std::move(message)); });
  // Addresses may change (DNS); who is a member changes only through the log.
  discovery_watch_ = discovery_->watch([this](const std::vector<Peer>& members) {
    {
      std::lock_guard lock(peers_mutex_);
      discovered_ = members;
    }
    update_transport_peers();
  });
  started_ = true;
  publish_status();
  apply_thread_ = std::thread([this] { apply_loop(); });
  raft_thread_ = std::thread([this] { raft_loop(); });
  return {};
}

Status Server::bootstrap(PersistentState& state, const std::vector<Peer>& founders) {
  // Every founding member writes the same entry at index 1 in term 1, so
  // their logs agree on it (Log Matching) before any election: the cluster's
  // first configuration is in the log from the start, and a later change of
  // the discovered members cannot change it behind Raft's back.
  pb::Configuration configuration;
  std::vector<Peer> sorted = founders;
  std::sort(sorted.begin(), sorted.end(), [](const Peer& a, const Peer& b) { return a.id < b.id; });
  for (const Peer& founder : sorted) {
    pb::Member* member = configuration.add_voters();
    member->set_id(founder.id);
    member->set_address(founder.address);
  }
  state.hard_state.set_term(1);
  if (options_.founding_state) return found_from_state(state, configuration);
  pb::Entry entry;
  entry.set_term(1);
  entry.set_index(1);
  entry.set_type(pb::ENTRY_CONFIGURATION);
  entry.set_data(configuration.SerializeAsString());
  state.entries = {entry};
  spdlog::info("raft node {}: founding a cluster of {}", options_.core.id,
               Membership(configuration).describe());
  return storage_->save(&state.hard_state, state.entries, true);
}

Status Server::found_from_state(PersistentState& state, const pb::Configuration& configuration) {
  const ServerOptions::FoundingState& founding = *options_.founding_state;
  pb::SnapshotMetadata header;
  header.set_index(std::max<Index>(founding.index, 1));
  header.set_term(1);
  *header.mutable_configuration() = configuration;
  Result<std::unique_ptr<SnapshotFileWriter>> writer = snapshots_->create(header.index());
  if (!writer.ok()) return writer.error();
  snapshot_file::Encoder encoder(*writer.value(), header);
  if (Status written = founding.write(encoder); !written.ok()) return written;
  Result<pb::SnapshotMetadata> finished = encoder.finish();
  if (!finished.ok()) return finished.error();
  if (Status committed = writer.value()->commit(); !committed.ok()) return committed;
  // The snapshot's bytes are durable; recording it makes it the node's.
  if (Status saved = storage_->save(&state.hard_state, {}, true); !saved.ok()) return saved;
  if (Status recorded = storage_->save_snapshot(finished.value()); !recorded.ok()) return recorded;
  spdlog::info("raft node {}: founding a cluster of {} from a snapshot at index {} ({} bytes)",
               options_.core.id, Membership(configuration).describe(), finished.value().index(),
               finished.value().size());
  Result<PersistentState> reloaded = storage_->load();
  if (!reloaded.ok()) return reloaded.error();
  state = std::move(reloaded).value();
  return {};
}

void Server::update_transport_peers() {
  std::vector<Peer> peers;
  {
    std::lock_guard lock(peers_mutex_);
    peers = discovered_;
    for (const Peer& member : configured_) {
      auto known =
          std::find_if(peers.begin(), peers.end(), [&](const Peer& peer) { return peer.id == member.id; });
      if (known == peers.end()) {
        peers.push_back(member);
      } else if (known->address.empty()) {
        known->address = member.address;
      }
    }
    // Under the lock, so that two updates cannot reach the transport in the
    // opposite order.
    transport_->set_peers(peers);
  }
}

void Server::note_membership() {
  const MembershipHistory& history = core_->memberships();
  const Index committed_at = history.index_at(core_->log().committed());
  const bool changed = configuration_ == nullptr || history.version() != configuration_version_;
  if (changed || committed_at != committed_configuration_index_) {
    configuration_version_ = history.version();
    committed_configuration_index_ = committed_at;
    configuration_ = std::make_shared<const pb::Configuration>(history.latest().configuration());
    // The transport talks to every member of the committed configuration
    // and of any later one: a leader that is removing itself still leads
    // until its removal commits (§4.2.2), so its followers must keep taking
    // its messages until then.
    std::map<NodeId, std::string> members;
    for (const auto& [index, membership] : history.all()) {
      if (index < committed_at) continue;
      for (const auto* list :
           {&membership.configuration().voters(), &membership.configuration().learners()}) {
        for (const pb::Member& member : *list) members[member.id()] = member.address();
      }
    }
    {
      std::lock_guard lock(peers_mutex_);
      configured_.clear();
      for (const auto& [id, address] : members) configured_.push_back(Peer{id, address});
    }
    update_transport_peers();
    // Only a committed removal is final: an uncommitted one may yet be
    // truncated away, and the node must not be told so before.
    const pb::Configuration& committed = history.at(committed_at).configuration();
    transport_->set_removed(std::vector<NodeId>(committed.removed().begin(), committed.removed().end()));
    if (changed && history.latest_index() > 0) {
      spdlog::info("raft node {}: configuration at index {}: {}", options_.core.id, history.latest_index(),
                   history.latest().describe());
    }
  }
  if (core_->removed() && !removed_) {
    removed_ = true;
    spdlog::warn("raft node {}: this node was removed from the cluster; it no longer votes or serves",
                 options_.core.id);
    // Nothing pending here will be decided here any more: this node hears
    // no more of the log.
    fail_pending(Error{ErrorCode::kTimeout,
                       "this member was removed from the cluster; whether the request took effect is unknown "
                       "here (ask another member)"});
  }
}

void Server::check_transfer(std::chrono::steady_clock::time_point now) {
  if (!transfer_) return;
  const NodeId target = transfer_->target;
  std::optional<Status> outcome;
  if (core_->leader() == target) {
    outcome = Status{};
  } else if (core_->role() != Role::kLeader && core_->leader() != kNoNode) {
    outcome =
        Error{ErrorCode::kNotLeader,
              "node " + std::to_string(core_->leader()) + " took over instead of " + std::to_string(target),
              core_->leader()};
  } else if ((core_->role() == Role::kLeader && core_->transfer_target() != target) ||
             now >= transfer_->deadline) {
    // The core gave up after an election timeout without the target
    // taking over (or the whole wait ran out mid-election).
    Index match = 0;
    auto progress = core_->followers().find(target);
    if (progress != core_->followers().end()) match = progress->second.match_index;
    outcome = Error{ErrorCode::kTimeout,
                    "node " + std::to_string(target) +
                        " did not take over within an election timeout: it holds the log up "
                        "to index " +
                        std::to_string(match) + " of " + std::to_string(core_->log().last_index()) +
                        " (lagging or unreachable); leadership stays here"};
  }
  if (!outcome) return;
  transfer_->promise.set_value(*outcome);
  transfer_.reset();
}

void Server::stop() {
  std::lock_guard lifecycle(lifecycle_mutex_);
  if (!started_ || stopped_) return;
  stopped_ = true;
  discovery_watch_.reset();
  transport_->stop();
  {
    std::lock_guard lock(inbox_mutex_);
    stopping_ = true;
  }
  inbox_ready_.notify_all();
  raft_thread_.join();
  {
    std::lock_guard lock(apply_mutex_);
    apply_stopping_ = true;
  }
  apply_ready_.notify_all();
  apply_thread_.join();
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  publish_not_running();
}

void Server::publish_not_running() {
  {
    std::lock_guard status(status_mutex_);
    status_.running = false;
  }
  status_changed_.notify_all();
}

// -------------------------------------------------------------- requests --

void Server::enqueue(Input input) {
  {
    std::lock_guard lock(inbox_mutex_);
    if (!stopping_) {
      inbox_.push_back(std::move(input));
      inbox_ready_.notify_one();
      return;
    }
  }
  // Refused: answer now rather than leave the caller waiting forever.
  refuse(input, stopped_error());
}

void Server::refuse(Input& input, const Error& error) {
  if (auto* propose = std::get_if<ProposeRequest>(&input)) propose->done(error);
  if (auto* read = std::get_if<ReadRequest>(&input)) read->done(error);
  if (auto* transfer = std::get_if<TransferRequest>(&input)) transfer->promise.set_value(error);
  if (auto* change = std::get_if<MembershipRequest>(&input)) change->done(error);
}

void Server::fail_pending(const Error& error) {
  for (auto& [index, proposal] : pending_proposals_) proposal.done(error);
  pending_proposals_.clear();
  for (auto& [id, read] : pending_reads_) read.done(error);
  pending_reads_.clear();
}

std::future<Result<Applied>> Server::propose(std::string command) {
  auto promise = std::make_shared<std::promise<Result<Applied>>>();
  auto future = promise->get_future();
  propose(std::move(command), [promise](Result<Applied> result) { promise->set_value(std::move(result)); });
  return future;
}

void Server::propose(std::string command, ProposalDone done, std::chrono::steady_clock::time_point deadline) {
  const std::size_t bytes = command.size();
  const std::size_t count = pending_count_.fetch_add(1) + 1;
  const std::size_t total_bytes = pending_bytes_.fetch_add(bytes) + bytes;
  if (count > options_.max_pending_proposals || total_bytes > options_.max_pending_bytes) {
    pending_count_.fetch_sub(1);
    pending_bytes_.fetch_sub(bytes);
    ++metrics_.proposals_refused;
    done(Error{ErrorCode::kOverloaded,
               "node " + std::to_string(options_.core.id) + " has " + std::to_string(count - 1) +
                   " writes (" + std::to_string(total_bytes - bytes) +
                   " bytes) waiting to be applied; its limit is " +
                   std::to_string(options_.max_pending_proposals) + " writes or " +
                   std::to_string(options_.max_pending_bytes) + " bytes: back off and retry"});
    return;
  }
  const auto proposed = std::chrono::steady_clock::now();
  enqueue(ProposeRequest{std::move(command),
                         [this, proposed, bytes, done = std::move(done)](Result<Applied> result) {
                           pending_count_.fetch_sub(1);
                           pending_bytes_.fetch_sub(bytes);
                           metrics_.proposal_duration.observe(std::chrono::steady_clock::now() - proposed);
                           ++(result.ok() ? metrics_.proposals_committed : metrics_.proposals_failed);
                           done(std::move(result));
                         },
                         deadline});
}

std::future<Result<Index>> Server::read_index() {
  auto promise = std::make_shared<std::promise<Result<Index>>>();
  auto future = promise->get_future();
  read_index([promise](Result<Index> result) { promise->set_value(std::move(result)); });
  return future;
}

void Server::read_index(ReadDone done) {
  enqueue(ReadRequest{std::move(done)});
}

std::future<Result<Applied>> Server::change_membership(MembershipChange change) {
  auto promise = std::make_shared<std::promise<Result<Applied>>>();
  auto future = promise->get_future();
  enqueue(MembershipRequest{std::move(change),
                            [promise](Result<Applied> result) { promise->set_value(std::move(result)); }});
  return future;
}

std::future<Status> Server::transfer_leadership(NodeId target) {
  TransferRequest request{target, {}};
  auto future = request.promise.get_future();
  enqueue(std::move(request));
  return future;
}

ServerStatus Server::status() const {
  std::lock_guard lock(status_mutex_);
  ServerStatus status = status_;
  status.applied_index = applied_index_.load();
  return status;
}

NodeId Server::wait_for_leader(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(status_mutex_);
  status_changed_.wait_until(lock, deadline, [&] { return status_.leader != kNoNode || !status_.running; });
  return status_.leader;
}

// ------------------------------------------------------------- raft loop --

void Server::raft_loop() {
  using Clock = std::chrono::steady_clock;
  auto next_tick = Clock::now() + options_.tick_interval;
  std::vector<Input> batch;
  bool healthy = true;
  while (healthy) {
    if (apply_failed_) break;
    {
      std::unique_lock lock(inbox_mutex_);
      inbox_ready_.wait_until(lock, next_tick, [&] { return stopping_ || !inbox_.empty(); });
      if (stopping_) break;
      batch.swap(inbox_);
    }
    for (Input& input : batch) healthy = handle(input) && healthy;
    batch.clear();

    const auto now = Clock::now();
    if (now >= next_tick) {
      core_->tick();
      // After a stall (a slow disk, a paused process) tick once and resume
      // the schedule from now: replaying the missed ticks in a burst would
      // fire election timeouts all at once.
      next_tick += options_.tick_interval;
      if (next_tick <= now) next_tick = now + options_.tick_interval;
      expire_reads(now);
    }
    while (healthy && core_->has_ready()) healthy = process_ready();
    note_membership();
    check_transfer(now);
    publish_status();
  }
  if (healthy && !apply_failed_) {
    fail_everything(stopped_error());
    return;
  }
  const Error fault{ErrorCode::kStorage, "storage failed; the node stopped to protect its data"};
  spdlog::critical("raft node {}: {} (the write that failed is logged above)", options_.core.id,
                   fault.message);
  fail_everything(fault);
  publish_not_running();
  if (options_.on_fault) options_.on_fault(fault);
}

bool Server::handle(Input& input) {
  if (auto* message = std::get_if<pb::Message>(&input)) {
    core_->step(*message);
  } else if (auto* propose = std::get_if<ProposeRequest>(&input)) {
    if (std::chrono::steady_clock::now() >= propose->deadline) {
      // Its caller has its answer (a timeout) already: proposing it now
      // would only spend the log on a write nobody waits for.
      propose->done(Error{ErrorCode::kExpired, "the deadline passed before the write was proposed"});
    } else {
      track_proposal(core_->propose(std::move(propose->command)), std::move(propose->done));
    }
  } else if (auto* change = std::get_if<MembershipRequest>(&input)) {
    track_proposal(core_->change_membership(change->change), std::move(change->done));
  } else if (auto* read = std::get_if<ReadRequest>(&input)) {
    const std::uint64_t id = next_read_id_++;
    pending_reads_.emplace(
        id, PendingRead{std::chrono::steady_clock::now() + read_timeout_, std::move(read->done)});
    core_->read_index(id);
  } else if (auto* transfer = std::get_if<TransferRequest>(&input)) {
    start_transfer(*transfer);
  } else if (auto* taken = std::get_if<SnapshotTaken>(&input)) {
    return record_snapshot(taken->snapshot);
  }
  return true;
}

void Server::track_proposal(Result<ProposalTicket> ticket, ProposalDone done) {
  if (!ticket.ok()) {
    done(ticket.error());
    return;
  }
  pending_proposals_.emplace(ticket.value().index, PendingProposal{ticket.value().term, std::move(done)});
}

void Server::start_transfer(TransferRequest& request) {
  Status started = core_->transfer_leadership(request.target);
  if (!started.ok() || request.target == options_.core.id) {
    request.promise.set_value(std::move(started));
    return;
  }
  if (transfer_) {
    transfer_->promise.set_value(
        Error{ErrorCode::kFailedPrecondition,
              "a transfer to node " + std::to_string(request.target) + " replaced it"});
  }
  transfer_ = PendingTransfer{request.target, std::chrono::steady_clock::now() + transfer_timeout_,
                              std::move(request.promise)};
}

bool Server::process_ready() {
  Ready ready = core_->ready();
  if (ready.soft_state) {
    log_role_change(*ready.soft_state);
    if (ready.soft_state->leader != kNoNode && ready.soft_state->leader != last_leader_seen_) {
      last_leader_seen_ = ready.soft_state->leader;
      ++metrics_.leader_changes;
    }
  }
  // §10.2.1: the leader's AppendEntries go out before its own disk write.
  for (pb::Message& message : ready.messages) {
    if (message.has_install_snapshot() && !fill_snapshot_chunk(message)) continue;
    Result<PayloadFill> filled =
        fill_dropped_payloads(message, core_->log().payloads_from(), core_->log().base_index(), *storage_);
    if (!filled.ok()) {
      spdlog::error("raft node {}: {}", options_.core.id, filled.error().to_string());
      return false;
    }
    if (filled.value() == PayloadFill::kCompacted) continue;  // the next heartbeat sends the snapshot
    transport_->send(std::move(message));
  }
  std::vector<std::pair<Index, bool>> received;
  if (!receive_snapshot_chunks(ready, received)) return false;
  ApplyBatch work;
  if (ready.snapshot && !install_snapshot(*ready.snapshot, work)) return false;
  if (ready.hard_state || !ready.entries.empty()) {
    const auto writing = std::chrono::steady_clock::now();
    const Status saved =
        storage_->save(ready.hard_state ? &*ready.hard_state : nullptr, ready.entries, ready.must_sync);
    if (ready.must_sync) metrics_.disk_sync_duration.observe(std::chrono::steady_clock::now() - writing);
    if (!saved.ok()) {
      spdlog::error("raft node {}: {}", options_.core.id, saved.error().to_string());
      return false;
    }
  }
  // Votes and acknowledgements promise durability: only after the write.
  for (pb::Message& message : ready.messages_after_persist) transport_->send(std::move(message));
  core_->advance(ready);
  for (const auto& [index, intact] : received) core_->snapshot_received(index, intact);

  for (const ReadState& read : ready.read_states) {
    auto pending = pending_reads_.find(read.request_id);
    if (pending == pending_reads_.end()) continue;  // already timed out
    if (read.ok) {
      work.reads.emplace_back(read.index, std::move(pending->second.done));
    } else {
      pending->second.done(
          Error{ErrorCode::kNotLeader, "leadership could not be confirmed for the read", core_->leader()});
    }
    pending_reads_.erase(pending);
  }
  if (!ready.committed_entries.empty()) {
    const Index last = ready.committed_entries.back().index();
    while (!pending_proposals_.empty() && pending_proposals_.begin()->first <= last) {
      auto node = pending_proposals_.extract(pending_proposals_.begin());
      work.proposals.emplace(node.key(), std::move(node.mapped()));
    }
    work.entries = std::move(ready.committed_entries);
  }
  if (work.restore || !work.entries.empty() || !work.reads.empty()) {
    std::lock_guard lock(apply_mutex_);
    apply_queue_.push_back(std::move(work));
    apply_ready_.notify_one();
  }
  return true;
}

// ------------------------------------------------------------- snapshots --

bool Server::fill_snapshot_chunk(pb::Message& message) {
  pb::InstallSnapshot* chunk = message.mutable_install_snapshot();
  const pb::SnapshotMetadata& snapshot = chunk->snapshot();
  // A chunk announced before a newer snapshot replaced this one is dropped;
  // the next heartbeat starts sending the newer one.
  if (snapshot.index() < core_->snapshot().index()) return false;
  const std::uint64_t end = snapshot_chunk_end(core_->config(), chunk->offset(), snapshot.size());
  Result<std::string> bytes = snapshots_->read(snapshot.index(), chunk->offset(), end - chunk->offset());
  if (!bytes.ok() || bytes.value().size() != end - chunk->offset()) {
    // The next heartbeat asks for this chunk again.
    spdlog::error("raft node {}: cannot read snapshot {}: {}", options_.core.id, snapshot.index(),
                  bytes.ok() ? "it is shorter than recorded" : bytes.error().to_string());
    return false;
  }
  chunk->set_data(std::move(bytes).value());
  return true;
}

bool Server::receive_snapshot_chunks(const Ready& ready, std::vector<std::pair<Index, bool>>& received) {
  for (const pb::InstallSnapshot& chunk : ready.snapshot_chunks) {
    const pb::SnapshotMetadata& snapshot = chunk.snapshot();
    if (chunk.offset() == 0) {
      Result<std::unique_ptr<SnapshotFileWriter>> created = snapshots_->create(snapshot.index());
      if (!created.ok()) {
        spdlog::error("raft node {}: {}", options_.core.id, created.error().to_string());
        return false;
      }
      incoming_snapshot_ = std::move(created).value();
    }
    // The core hands out chunks in order from offset 0, so this holds
    // unless a write failed, which stops the node.
    Status appended = incoming_snapshot_ && incoming_snapshot_->size() == chunk.offset()
                          ? incoming_snapshot_->append(chunk.data())
                          : Status(Error{ErrorCode::kStorage, "snapshot chunk out of order"});
    if (appended.ok() && chunk.done()) appended = incoming_snapshot_->commit();
    if (!appended.ok()) {
      spdlog::error("raft node {}: {}", options_.core.id, appended.error().to_string());
      return false;
    }
    if (!chunk.done()) continue;
    incoming_snapshot_.reset();
    // Check every byte before anything depends on it: a damaged snapshot is
    // deleted and fetched again.
    const Status intact = snapshot_file::verify(*snapshots_, snapshot);
    if (!intact.ok()) {
      spdlog::warn("raft node {}: {}; asking for it again", options_.core.id, intact.error().to_string());
      (void)snapshots_->remove(snapshot.index());
    }
    received.emplace_back(snapshot.index(), intact.ok());
  }
  return true;
}

bool Server::install_snapshot(const pb::SnapshotMetadata& snapshot, ApplyBatch& work) {
  // Storage first: once it records the snapshot (dropping the log), a crash
  // before the state machine has restored is finished at the next start.
  if (Status saved = storage_->save_snapshot(snapshot); !saved.ok()) {
    spdlog::error("raft node {}: {}", options_.core.id, saved.error().to_string());
    return false;
  }
  work.restore = snapshot;
  spdlog::info("raft node {}: installing snapshot at index {} ({} bytes) from the leader", options_.core.id,
               snapshot.index(), snapshot.size());
  // Proposals this node made as an earlier leader, now inside the snapshot:
  // whether they committed cannot be told any more.
  while (!pending_proposals_.empty() && pending_proposals_.begin()->first <= snapshot.index()) {
    auto node = pending_proposals_.extract(pending_proposals_.begin());
    work.proposals.emplace(node.key(), std::move(node.mapped()));
  }
  return true;
}

void Server::log_role_change(const SoftState& now) {
  // Elections and leader changes, once each: never per request.
  if (now.role == Role::kLeader) {
    spdlog::info("raft node {}: elected leader for term {}", options_.core.id, now.term);
  } else if (now.leader != kNoNode) {
    spdlog::info("raft node {}: {} of leader {} in term {}", options_.core.id, to_string(now.role),
                 now.leader, now.term);
  } else if (now.role == Role::kCandidate) {
    spdlog::info("raft node {}: campaigning in term {}", options_.core.id, now.term);
  } else {
    spdlog::info("raft node {}: {} in term {}, no leader known", options_.core.id, to_string(now.role),
                 now.term);
  }
}

bool Server::record_snapshot(const pb::SnapshotMetadata& snapshot) {
  // A snapshot written out while a newer one was installed is stale.
  if (snapshot.index() <= core_->snapshot().index()) return true;
  if (Status saved = storage_->save_snapshot(snapshot); !saved.ok()) {
    spdlog::error("raft node {}: {}", options_.core.id, saved.error().to_string());
    return false;
  }
  const Index through =
      snapshot.index() > options_.compaction_margin ? snapshot.index() - options_.compaction_margin : 0;
  core_->compact(snapshot, through);
  spdlog::info("raft node {}: snapshot at index {} ({} bytes); log now starts at {}", options_.core.id,
               snapshot.index(), snapshot.size(), core_->log().first_index());
  if (Status compacted = storage_->compact(core_->log().base_index()); !compacted.ok()) {
    spdlog::error("raft node {}: {}", options_.core.id, compacted.error().to_string());
    return false;
  }
  if (Status cleaned = snapshots_->remove_before(snapshot.index()); !cleaned.ok()) {
    // Only costs disk space until the next snapshot.
    spdlog::error("raft node {}: {}", options_.core.id, cleaned.error().to_string());
  }
  return true;
}

Status Server::restore_state_machine(const pb::SnapshotMetadata& snapshot) {
  // Check the whole file first, so the state machine never starts on bytes
  // that turn out to be damaged.
  if (Status intact = snapshot_file::verify(*snapshots_, snapshot); !intact.ok()) return intact;
  snapshot_file::Decoder decoder(*snapshots_, snapshot);
  return state_machine_->restore(snapshot.index(), decoder);
}

void Server::maybe_take_snapshot() {
  if (snapshot_running_) return;
  const Index applied = state_machine_->applied_index();
  const bool due =
      (options_.snapshot_entries > 0 && applied >= last_snapshot_index_ + options_.snapshot_entries) ||
      (options_.snapshot_bytes > 0 && bytes_since_snapshot_ >= options_.snapshot_bytes);
  // The snapshot's term is that of the state machine's last command, known
  // once it applied one in this run.
  if (!due || applied <= last_snapshot_index_ || applied != last_command_index_) return;
  std::unique_ptr<StateMachineView> view = state_machine_->view();
  if (view->index() != applied) return;  // a state machine that moved on: try again later
  pb::SnapshotMetadata header;
  header.set_index(applied);
  header.set_term(last_command_term_);
  *header.mutable_configuration() = applied_configuration_;
  last_snapshot_index_ = applied;
  bytes_since_snapshot_ = 0;
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  snapshot_running_ = true;
  snapshot_thread_ = std::thread([this, view = std::move(view), header] {
    const auto started = std::chrono::steady_clock::now();
    Result<pb::SnapshotMetadata> written = [&]() -> Result<pb::SnapshotMetadata> {
      Result<std::unique_ptr<SnapshotFileWriter>> writer = snapshots_->create(header.index());
      if (!writer.ok()) return writer.error();
      snapshot_file::Encoder encoder(*writer.value(), header);
      if (Status status = view->write(encoder); !status.ok()) return status.error();
      Result<pb::SnapshotMetadata> finished = encoder.finish();
      if (!finished.ok()) return finished;
      if (Status committed = writer.value()->commit(); !committed.ok()) return committed.error();
      return finished;
    }();
    if (written.ok()) {
      metrics_.snapshot_take_duration.observe(std::chrono::steady_clock::now() - started);
      ++metrics_.snapshots_taken;
      enqueue(SnapshotTaken{written.value()});
    } else {
      // The log keeps growing until a later attempt succeeds.
      spdlog::error("raft node {}: snapshot at index {} failed: {}", options_.core.id, header.index(),
                    written.error().to_string());
    }
    {
      std::lock_guard lock(apply_mutex_);
      snapshot_running_ = false;
      snapshot_finished_ = true;
    }
    apply_ready_.notify_one();
  });
}

void Server::expire_reads(std::chrono::steady_clock::time_point now) {
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (it->second.deadline <= now) {
      it->second.done(Error{ErrorCode::kTimeout, "no leader confirmed the read in time", core_->leader()});
      it = pending_reads_.erase(it);
    } else {
      ++it;
    }
  }
}

void Server::publish_status() {
  ServerStatus status;
  status.id = options_.core.id;
  status.role = core_->role();
  status.term = core_->term();
  status.leader = core_->leader();
  status.commit_index = core_->log().committed();
  status.cluster_commit_index = core_->known_cluster_commit();
  status.last_log_index = core_->log().last_index();
  status.first_log_index = core_->log().first_index();
  status.snapshot_index = core_->snapshot().index();
  status.configuration = configuration_;
  status.configuration_index = core_->memberships().latest_index();
  status.configuration_committed = status.configuration_index <= status.commit_index;
  status.removed = core_->removed();
  status.running = true;
  for (const auto& [peer, progress] : core_->followers()) {
    status.followers.push_back(
        FollowerStatus{peer, progress.match_index, progress.next_index, progress.mode});
  }
  {
    std::lock_guard lock(status_mutex_);
    status_ = std::move(status);
  }
  status_changed_.notify_all();
}

void Server::fail_everything(const Error& error) {
  if (transfer_) {
    transfer_->promise.set_value(error);
    transfer_.reset();
  }
  fail_pending(error);
  std::vector<Input> leftover;
  {
    std::lock_guard lock(inbox_mutex_);
    stopping_ = true;
    leftover.swap(inbox_);
  }
  for (Input& input : leftover) refuse(input, error);
}

// ------------------------------------------------------------ apply loop --

void Server::fail_apply(ApplyBatch& work, const Error& error) {
  // The node cannot go on without its state machine: the raft loop sees
  // apply_failed_ and stops, rather than let this node vote or lead while
  // its state is wrong.
  apply_failed_ = true;
  inbox_ready_.notify_all();
  for (auto& [index, proposal] : work.proposals) proposal.done(error);
  for (auto& [index, done] : work.reads) done(error);
}

void Server::apply_loop() {
  std::multimap<Index, ReadDone> waiting_reads;
  auto release_reads = [&] {
    const Index applied = applied_index_.load();
    while (!waiting_reads.empty() && waiting_reads.begin()->first <= applied) {
      auto node = waiting_reads.extract(waiting_reads.begin());
      node.mapped()(node.key());
    }
  };
  while (true) {
    ApplyBatch work;
    {
      std::unique_lock lock(apply_mutex_);
      apply_ready_.wait(lock, [&] { return apply_stopping_ || !apply_queue_.empty() || snapshot_finished_; });
      if (apply_queue_.empty() && apply_stopping_) break;  // nothing left to apply
      if (apply_queue_.empty()) {
        // A snapshot finished while another came due: take that one now
        // rather than at the next entry, which may be long in coming.
        snapshot_finished_ = false;
        lock.unlock();
        maybe_take_snapshot();
        continue;
      }
      work = std::move(apply_queue_.front());
      apply_queue_.pop_front();
    }
    if (work.restore) {
      const Index index = work.restore->index();
      const auto restoring = std::chrono::steady_clock::now();
      if (Status restored = restore_state_machine(*work.restore); !restored.ok()) {
        // The node cannot go on without its state: stop it (the raft loop
        // sees apply_failed_) rather than apply entries to the wrong state.
        spdlog::error("raft node {}: cannot restore snapshot {}: {}", options_.core.id, index,
                      restored.error().to_string());
        fail_apply(work, restored.error());
        break;
      }
      metrics_.snapshot_install_duration.observe(std::chrono::steady_clock::now() - restoring);
      ++metrics_.snapshots_installed;
      applied_index_ = index;
      // Older snapshots are of no use now, to this node or to others.
      (void)snapshots_->remove_before(index);
      last_snapshot_index_ = index;
      bytes_since_snapshot_ = 0;
      last_command_index_ = index;
      last_command_term_ = work.restore->term();
      applied_configuration_ = work.restore->configuration();
      while (!work.proposals.empty() && work.proposals.begin()->first <= index) {
        work.proposals.begin()->second.done(
            Error{ErrorCode::kTimeout,
                  "the entry's outcome is unknown: a snapshot replaced it before it applied here"});
        work.proposals.erase(work.proposals.begin());
      }
    }
    bool failed = false;
    for (std::size_t next = 0; next < work.entries.size() && !failed;) {
      // The commands of a run of entries, applied together (one write to
      // the state machine's disk for many commands), bounded so that a
      // long catch-up does not build one huge batch.
      std::vector<CommittedCommand> commands;
      std::size_t end = next;
      std::size_t bytes = 0;
      for (; end < work.entries.size() && commands.size() < kMaxApplyBatch && bytes < kMaxApplyBatchBytes;
           ++end) {
        const pb::Entry& entry = work.entries[end];
        if (entry.type() == pb::ENTRY_COMMAND && entry.index() > state_machine_->applied_index()) {
          commands.push_back(CommittedCommand{entry.index(), entry.data()});
          bytes += entry.data().size();
        }
      }
      std::vector<std::string> results;
      if (!commands.empty()) {
        Result<std::vector<std::string>> applied = state_machine_->apply_all(commands);
        if (!applied.ok()) {
          spdlog::error("raft node {}: cannot apply indexes {}..{}: {}", options_.core.id,
                        commands.front().index, commands.back().index, applied.error().to_string());
          fail_apply(work, applied.error());
          failed = true;
          break;
        }
        results = std::move(applied).value();
      }
      std::size_t result = 0;
      for (; next < end; ++next) {
        const pb::Entry& entry = work.entries[next];
        if (entry.type() == pb::ENTRY_CONFIGURATION) {
          // The core checked that it parses before it took the entry.
          applied_configuration_.ParseFromString(entry.data());
        }
        std::string answer;
        if (result < commands.size() && commands[result].index == entry.index()) {
          answer = std::move(results[result++]);
          bytes_since_snapshot_ += entry.data().size();
          last_command_index_ = entry.index();
          last_command_term_ = entry.term();
        }
        applied_index_ = entry.index();
        auto proposal = work.proposals.find(entry.index());
        if (proposal != work.proposals.end()) {
          if (proposal->second.term == entry.term()) {
            proposal->second.done(Applied{entry.index(), std::move(answer)});
          } else {
            // Another leader's entry won this index: ours was never committed.
            proposal->second.done(
                Error{ErrorCode::kProposalDropped, "a new leader replaced the entry before it committed"});
          }
          work.proposals.erase(proposal);
        }
      }
    }
    if (failed) break;
    for (auto& [index, proposal] : work.proposals) {
      proposal.done(Error{ErrorCode::kProposalDropped, "entry was not applied"});
    }
    for (auto& [index, done] : work.reads) waiting_reads.emplace(index, std::move(done));
    release_reads();
    maybe_take_snapshot();
  }
  for (auto& [index, done] : waiting_reads) done(stopped_error());
}

}  // namespace raft
