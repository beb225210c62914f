#include "raft/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "raft/snapshot_file.h"

namespace raft {

namespace {

Error stopped_error() {
  return Error{ErrorCode::kStopped, "the server is stopping"};
}

}  // namespace

Server::Server(ServerOptions options, std::shared_ptr<Storage> storage,
               std::shared_ptr<SnapshotStore> snapshots, std::shared_ptr<Transport> transport,
               std::shared_ptr<Discovery> discovery, std::shared_ptr<StateMachine> state_machine)
    : options_(options),
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

  const pb::SnapshotMetadata latest_snapshot = state.snapshot;
  const Index machine_applied = state_machine_->applied_index();
  const Index log_first = state.log_base.index() + 1;
  const Index log_last = state.log_base.index() + state.entries.size();
  const pb::HardState hard_state = state.hard_state;
  recovered_commit_index_ = std::min(hard_state.commit(), log_last);
  Result<RestoredState> recovered = recover(std::move(state), *state_machine_, *snapshots_);
  if (!recovered.ok()) return recovered.error();
  // What a restart found on disk: the first thing to read after a crash.
  spdlog::info("raft node {}: recovered term {}, log {}..{}, commit {}; state machine at applied index {}{}",
               id, hard_state.term(), log_first, log_last, hard_state.commit(), machine_applied,
               latest_snapshot.index() > machine_applied
                   ? ", restored from the snapshot at index " + std::to_string(latest_snapshot.index())
                   : "");
  last_term_logged_ = hard_state.term();
  NodeOptions node_options;
  node_options.core = std::move(config);
  node_options.tick_interval = options_.tick_interval;
  node_options.read_timeout = options_.read_timeout.count() > 0
                                  ? options_.read_timeout
                                  : 4 * options_.core.election_ticks * options_.tick_interval;
  node_options.transfer_timeout = options_.transfer_timeout.count() > 0
                                      ? options_.transfer_timeout
                                      : 6 * options_.core.election_ticks * options_.tick_interval;
  node_options.compaction_margin = options_.compaction_margin;
  try {
    node_ = std::make_unique<Node>(std::move(node_options), std::move(recovered).value(), *storage_,
                                   *snapshots_, std::chrono::steady_clock::now());
  } catch (const std::invalid_argument& error) {
    return Error{ErrorCode::kInvalidArgument, error.what()};
  }
  disk_writer_ = std::make_unique<DiskWriter>(*storage_, *snapshots_);
  const Index applied = node_->core().log().applied();
  applied_index_ = applied;
  applier_ = std::make_unique<Applier>(ApplierOptions{options_.snapshot_entries, options_.snapshot_bytes},
                                       *state_machine_, *snapshots_, latest_snapshot,
                                       node_->core().memberships().at(applied).configuration());

  {
    std::lock_guard lock(peers_mutex_);
    discovered_ = peers.value();
  }
  transport_->start(id, [this](pb::Message message) { enqueue(std::move(message)); });
  // Addresses may change (DNS); who is a member changes only through the log.
  discovery_watch_ = discovery_->watch([this](const std::vector<Peer>& members) {
    {
      std::lock_guard lock(peers_mutex_);
      discovered_ = members;
    }
    update_transport_peers();
  });
  // What the node asked for as it started: the members to reach, entries
  // to apply again (the threads are not running yet).
  drain();
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
    if (auto client = options_.founder_client_addresses.find(founder.id);
        client != options_.founder_client_addresses.end()) {
      member->set_client_address(client->second);
    }
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
  std::vector<Input> batch;
  while (!node_->failed() && !apply_failed_) {
    {
      std::unique_lock lock(inbox_mutex_);
      inbox_ready_.wait_until(lock, node_->next_deadline(),
                              [&] { return stopping_ || apply_failed_ || !inbox_.empty(); });
      if (stopping_) break;
      batch.swap(inbox_);
    }
    // The time (ticks, deadlines), then everything that queued up, then one
    // Ready for all of it.
    node_->advance_time(Clock::now());
    for (Input& input : batch) feed(input);
    batch.clear();
    drain();
    publish_status();
  }
  if (!node_->failed() && !apply_failed_) {
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

void Server::feed(Input& input) {
  if (auto* message = std::get_if<pb::Message>(&input)) {
    node_->receive(std::move(*message));
  } else if (auto* propose = std::get_if<ProposeRequest>(&input)) {
    node_->propose(std::move(propose->command), std::move(propose->done), propose->deadline);
  } else if (auto* change = std::get_if<MembershipRequest>(&input)) {
    node_->change_membership(change->change, std::move(change->done));
  } else if (auto* read = std::get_if<ReadRequest>(&input)) {
    node_->read_index(std::move(read->done));
  } else if (auto* transfer = std::get_if<TransferRequest>(&input)) {
    auto promise = std::make_shared<std::promise<Status>>(std::move(transfer->promise));
    node_->transfer_leadership(transfer->target,
                               [promise](Status status) { promise->set_value(std::move(status)); });
  } else if (auto* taken = std::get_if<SnapshotTaken>(&input)) {
    node_->snapshot_taken(std::move(taken->snapshot));
  }
}

void Server::drain() {
  while (node_->has_output()) {
    NodeOutput output = node_->take_output();
    if (options_.check_invariants) {
      if (const std::string broken = node_->check_invariants(); !broken.empty()) {
        spdlog::critical("raft node {}: {}", options_.core.id, broken);
        std::abort();
      }
    }
    for (const auto& [warning, line] : output.log) {
      if (warning) {
        spdlog::warn("raft node {}: {}", options_.core.id, line);
      } else {
        spdlog::info("raft node {}: {}", options_.core.id, line);
      }
    }
    if (output.soft_state) {
      log_role_change(*output.soft_state);
      if (output.soft_state->leader != kNoNode && output.soft_state->leader != last_leader_seen_) {
        last_leader_seen_ = output.soft_state->leader;
        ++metrics_.leader_changes;
      }
    }
    if (output.peers) {
      {
        std::lock_guard lock(peers_mutex_);
        configured_.clear();
        for (const auto& [id, address] : output.peers->members) configured_.push_back(Peer{id, address});
      }
      update_transport_peers();
      transport_->set_removed(output.peers->removed);
    }
    // §10.2.1: the leader's AppendEntries go out before its own disk write.
    for (pb::Message& message : output.messages) {
      if (message.has_append_entries() && message.append_entries().entries_size() > 0) {
        metrics_.append_entries_sent.fetch_add(1, std::memory_order_relaxed);
        metrics_.entries_sent.fetch_add(static_cast<std::uint64_t>(message.append_entries().entries_size()),
                                        std::memory_order_relaxed);
      }
      transport_->send(std::move(message));
    }
    if (!output.apply.empty()) {
      std::lock_guard lock(apply_mutex_);
      for (ApplyWork& work : output.apply) apply_queue_.push_back(std::move(work));
      apply_ready_.notify_one();
    }
    if (output.write) write(*output.write);
    if (node_->removed() && !removed_) removed_ = true;
  }
}

void Server::write(const DiskWrite& request) {
  std::vector<std::string> notes;
  if (request.install) {
    spdlog::info("raft node {}: installing snapshot at index {} ({} bytes) from the leader", options_.core.id,
                 request.install->index(), request.install->size());
  }
  const auto writing = std::chrono::steady_clock::now();
  DiskWriteResult result = disk_writer_->write(request, notes);
  if (request.sync) metrics_.disk_sync_duration.observe(std::chrono::steady_clock::now() - writing);
  if (result.status.ok()) disk_writer_->completed(request, notes);
  for (const std::string& note : notes) spdlog::warn("raft node {}: {}", options_.core.id, note);
  if (!result.status.ok()) {
    spdlog::error("raft node {}: {}", options_.core.id, result.status.error().to_string());
  } else if (request.record_taken) {
    spdlog::info("raft node {}: snapshot at index {} ({} bytes); log now starts at {}", options_.core.id,
                 request.record_taken->index(), request.record_taken->size(), request.compact_through + 1);
  }
  node_->write_done(std::move(result));
}

void Server::log_role_change(const SoftState& now) {
  // Elections and leader changes, once each: never per request. The first
  // line of a term says why it began; a pre-candidate says why it campaigns.
  const Core& core = node_->core();
  std::string why;
  if (now.term != last_term_logged_) why = " (term began: " + core.term_reason() + ")";
  last_term_logged_ = now.term;
  if (now.role == Role::kLeader) {
    spdlog::info("raft node {}: elected leader for term {}{}", options_.core.id, now.term, why);
  } else if (now.leader != kNoNode) {
    spdlog::info("raft node {}: {} of leader {} in term {}{}", options_.core.id, to_string(now.role),
                 now.leader, now.term, why);
  } else if (now.role == Role::kCandidate) {
    spdlog::info("raft node {}: campaigning in term {}{}", options_.core.id, now.term, why);
  } else if (now.role == Role::kPreCandidate) {
    spdlog::info("raft node {}: pre-candidate in term {}, asking for pre-votes: {}", options_.core.id,
                 now.term, core.campaign_reason());
  } else {
    spdlog::info("raft node {}: {} in term {}, no leader known{}", options_.core.id, to_string(now.role),
                 now.term, why);
  }
}

void Server::publish_status() {
  const Core& core = node_->core();
  ServerStatus status;
  status.id = options_.core.id;
  status.role = core.role();
  status.term = core.term();
  status.leader = core.leader();
  status.commit_index = core.log().committed();
  status.cluster_commit_index = core.known_cluster_commit();
  status.last_log_index = core.log().last_index();
  status.first_log_index = core.log().first_index();
  status.snapshot_index = core.snapshot().index();
  status.configuration = node_->configuration();
  status.configuration_index = core.memberships().latest_index();
  status.configuration_committed = status.configuration_index <= status.commit_index;
  status.removed = core.removed();
  status.running = true;
  for (const auto& [peer, progress] : core.followers()) {
    status.followers.push_back(
        FollowerStatus{peer, progress.match_index, progress.next_index, progress.mode});
  }
  {
    std::lock_guard lock(status_mutex_);
    status_ = std::move(status);
  }
  status_changed_.notify_all();
}

void Server::publish_not_running() {
  {
    std::lock_guard status(status_mutex_);
    status_.running = false;
  }
  status_changed_.notify_all();
}

void Server::fail_everything(const Error& error) {
  node_->stop(error);
  std::vector<Input> leftover;
  {
    std::lock_guard lock(inbox_mutex_);
    stopping_ = true;
    leftover.swap(inbox_);
  }
  for (Input& input : leftover) refuse(input, error);
}

// ------------------------------------------------------------ apply loop --

void Server::apply_loop() {
  while (true) {
    ApplyWork work;
    {
      std::unique_lock lock(apply_mutex_);
      apply_ready_.wait(lock, [&] { return apply_stopping_ || !apply_queue_.empty() || snapshot_finished_; });
      if (snapshot_finished_) {
        snapshot_finished_ = false;
        applier_->snapshot_done();
      }
      if (apply_queue_.empty() && apply_stopping_) break;  // nothing left to apply
      if (apply_queue_.empty()) {
        // A snapshot finished while another came due: take that one now
        // rather than at the next entry, which may be long in coming.
        lock.unlock();
        maybe_take_snapshot();
        continue;
      }
      work = std::move(apply_queue_.front());
      apply_queue_.pop_front();
    }
    const bool restoring = work.restore.has_value();
    const Index restore_index = restoring ? work.restore->index() : 0;
    const auto started = std::chrono::steady_clock::now();
    if (Status applied = applier_->apply(std::move(work)); !applied.ok()) {
      // The node cannot go on without its state: the raft loop sees
      // apply_failed_ and stops, rather than let this node vote or lead
      // while its state is wrong.
      spdlog::error("raft node {}: {}", options_.core.id,
                    restoring ? "cannot restore snapshot " + std::to_string(restore_index) + ": " +
                                    applied.error().to_string()
                              : applied.error().to_string());
      apply_failed_ = true;
      {
        std::lock_guard lock(inbox_mutex_);
        inbox_ready_.notify_all();
      }
      break;
    }
    if (restoring) {
      metrics_.snapshot_install_duration.observe(std::chrono::steady_clock::now() - started);
      ++metrics_.snapshots_installed;
    }
    applied_index_ = applier_->last_index();
    maybe_take_snapshot();
  }
  applier_->fail_waiting_reads(stopped_error());
}

void Server::maybe_take_snapshot() {
  std::optional<SnapshotJob> job = applier_->snapshot_if_due();
  if (!job) return;
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  snapshot_thread_ = std::thread([this, job = std::move(*job)]() mutable {
    const auto started = std::chrono::steady_clock::now();
    Result<pb::SnapshotMetadata> written = write_snapshot(*snapshots_, job);
    if (written.ok()) {
      metrics_.snapshot_take_duration.observe(std::chrono::steady_clock::now() - started);
      ++metrics_.snapshots_taken;
      enqueue(SnapshotTaken{written.value()});
    } else {
      // The log keeps growing until a later attempt succeeds.
      spdlog::error("raft node {}: snapshot at index {} failed: {}", options_.core.id, job.header.index(),
                    written.error().to_string());
    }
    {
      std::lock_guard lock(apply_mutex_);
      snapshot_finished_ = true;
    }
    apply_ready_.notify_one();
  });
}

}  // namespace raft
