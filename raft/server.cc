#include "raft/server.h"

#include <algorithm>
#include <iostream>
#include <random>

namespace raft {

namespace {

Error stopped_error() {
  return Error{ErrorCode::kStopped, "the server is stopping"};
}

}  // namespace

Server::Server(ServerOptions options, std::shared_ptr<Storage> storage, std::shared_ptr<Transport> transport,
               std::shared_ptr<Discovery> discovery, std::shared_ptr<StateMachine> state_machine)
    : options_(options),
      read_timeout_(options.read_timeout.count() > 0
                        ? options.read_timeout
                        : 4 * options.core.election_ticks * options.tick_interval),
      storage_(std::move(storage)),
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
  CoreConfig config = options_.core;
  config.voters.clear();
  for (const Peer& peer : peers.value()) config.voters.push_back(peer.id);
  if (std::find(config.voters.begin(), config.voters.end(), id) == config.voters.end()) {
    return Error{ErrorCode::kInvalidArgument,
                 "node " + std::to_string(id) + " is not among the discovered members"};
  }
  if (config.random_seed == 0) config.random_seed = std::random_device{}();

  Result<PersistentState> persisted = storage_->load();
  if (!persisted.ok()) return persisted.error();
  RestoredState restored;
  restored.hard_state = persisted.value().hard_state;
  restored.entries = std::move(persisted).value().entries;
  restored.applied = state_machine_->applied_index();
  try {
    core_ = std::make_unique<Core>(std::move(config), std::move(restored));
  } catch (const std::invalid_argument& error) {
    return Error{ErrorCode::kInvalidArgument, error.what()};
  }
  applied_index_ = core_->log().applied();

  transport_->set_peers(peers.value());
  transport_->start(id, [this](pb::Message message) { enqueue(std::move(message)); });
  started_ = true;
  publish_status();
  apply_thread_ = std::thread([this] { apply_loop(); });
  raft_thread_ = std::thread([this] { raft_loop(); });
  return {};
}

void Server::stop() {
  std::lock_guard lifecycle(lifecycle_mutex_);
  if (!started_ || stopped_) return;
  stopped_ = true;
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
  std::lock_guard status(status_mutex_);
  status_.running = false;
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
  if (auto* propose = std::get_if<ProposeRequest>(&input)) propose->promise.set_value(stopped_error());
  if (auto* read = std::get_if<ReadRequest>(&input)) read->promise.set_value(stopped_error());
  if (auto* transfer = std::get_if<TransferRequest>(&input)) transfer->promise.set_value(stopped_error());
}

std::future<Result<Applied>> Server::propose(std::string command) {
  ProposeRequest request{std::move(command), {}};
  auto future = request.promise.get_future();
  enqueue(std::move(request));
  return future;
}

std::future<Result<Index>> Server::read_index() {
  ReadRequest request;
  auto future = request.promise.get_future();
  enqueue(std::move(request));
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

// ------------------------------------------------------------- raft loop --

void Server::raft_loop() {
  using Clock = std::chrono::steady_clock;
  auto next_tick = Clock::now() + options_.tick_interval;
  std::vector<Input> batch;
  bool healthy = true;
  while (healthy) {
    {
      std::unique_lock lock(inbox_mutex_);
      inbox_ready_.wait_until(lock, next_tick, [&] { return stopping_ || !inbox_.empty(); });
      if (stopping_) break;
      batch.swap(inbox_);
    }
    for (Input& input : batch) handle(input);
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
    publish_status();
  }
  fail_everything(healthy
                      ? stopped_error()
                      : Error{ErrorCode::kStorage, "storage failed; the node stopped to protect its data"});
}

void Server::handle(Input& input) {
  if (auto* message = std::get_if<pb::Message>(&input)) {
    core_->step(*message);
  } else if (auto* propose = std::get_if<ProposeRequest>(&input)) {
    Result<ProposalTicket> ticket = core_->propose(std::move(propose->command));
    if (!ticket.ok()) {
      propose->promise.set_value(ticket.error());
    } else {
      pending_proposals_.emplace(ticket.value().index,
                                 PendingProposal{ticket.value().term, std::move(propose->promise)});
    }
  } else if (auto* read = std::get_if<ReadRequest>(&input)) {
    const std::uint64_t id = next_read_id_++;
    pending_reads_.emplace(
        id, PendingRead{std::chrono::steady_clock::now() + read_timeout_, std::move(read->promise)});
    core_->read_index(id);
  } else if (auto* transfer = std::get_if<TransferRequest>(&input)) {
    transfer->promise.set_value(core_->transfer_leadership(transfer->target));
  }
}

bool Server::process_ready() {
  Ready ready = core_->ready();
  // §10.2.1: the leader's AppendEntries go out before its own disk write.
  for (pb::Message& message : ready.messages) transport_->send(std::move(message));
  if (ready.hard_state || !ready.entries.empty()) {
    const Status saved =
        storage_->save(ready.hard_state ? &*ready.hard_state : nullptr, ready.entries, ready.must_sync);
    if (!saved.ok()) {
      std::cerr << "raft node " << options_.core.id << ": " << saved.error().to_string() << "\n";
      return false;
    }
  }
  // Votes and acknowledgements promise durability: only after the write.
  for (pb::Message& message : ready.messages_after_persist) transport_->send(std::move(message));
  core_->advance(ready);

  ApplyBatch work;
  for (const ReadState& read : ready.read_states) {
    auto pending = pending_reads_.find(read.request_id);
    if (pending == pending_reads_.end()) continue;  // already timed out
    if (read.ok) {
      work.reads.emplace_back(read.index, std::move(pending->second.promise));
    } else {
      pending->second.promise.set_value(
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
  if (!work.entries.empty() || !work.reads.empty()) {
    std::lock_guard lock(apply_mutex_);
    apply_queue_.push_back(std::move(work));
    apply_ready_.notify_one();
  }
  return true;
}

void Server::expire_reads(std::chrono::steady_clock::time_point now) {
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (it->second.deadline <= now) {
      it->second.promise.set_value(
          Error{ErrorCode::kTimeout, "no leader confirmed the read in time", core_->leader()});
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
  status.last_log_index = core_->log().last_index();
  status.running = true;
  for (const auto& [peer, progress] : core_->followers()) {
    status.followers.push_back(
        FollowerStatus{peer, progress.match_index, progress.next_index, progress.mode});
  }
  std::lock_guard lock(status_mutex_);
  status_ = std::move(status);
}

void Server::fail_everything(const Error& error) {
  for (auto& [index, proposal] : pending_proposals_) proposal.promise.set_value(error);
  pending_proposals_.clear();
  for (auto& [id, read] : pending_reads_) read.promise.set_value(error);
  pending_reads_.clear();
  std::vector<Input> leftover;
  {
    std::lock_guard lock(inbox_mutex_);
    stopping_ = true;
    leftover.swap(inbox_);
  }
  for (Input& input : leftover) {
    if (auto* propose = std::get_if<ProposeRequest>(&input)) propose->promise.set_value(error);
    if (auto* read = std::get_if<ReadRequest>(&input)) read->promise.set_value(error);
    if (auto* transfer = std::get_if<TransferRequest>(&input)) transfer->promise.set_value(error);
  }
}

// ------------------------------------------------------------ apply loop --

void Server::apply_loop() {
  std::multimap<Index, std::promise<Result<Index>>> waiting_reads;
  auto release_reads = [&] {
    const Index applied = applied_index_.load();
    while (!waiting_reads.empty() && waiting_reads.begin()->first <= applied) {
      waiting_reads.begin()->second.set_value(waiting_reads.begin()->first);
      waiting_reads.erase(waiting_reads.begin());
    }
  };
  while (true) {
    ApplyBatch work;
    {
      std::unique_lock lock(apply_mutex_);
      apply_ready_.wait(lock, [&] { return apply_stopping_ || !apply_queue_.empty(); });
      if (apply_queue_.empty()) break;  // stopping, and nothing left to apply
      work = std::move(apply_queue_.front());
      apply_queue_.pop_front();
    }
    for (const pb::Entry& entry : work.entries) {
      std::string result;
      if (entry.type() == pb::ENTRY_COMMAND && entry.index() > state_machine_->applied_index()) {
        result = state_machine_->apply(entry.index(), entry.data());
      }
      applied_index_ = entry.index();
      auto proposal = work.proposals.find(entry.index());
      if (proposal != work.proposals.end()) {
        if (proposal->second.term == entry.term()) {
          proposal->second.promise.set_value(Applied{entry.index(), std::move(result)});
        } else {
          // Another leader's entry won this index: ours was never committed.
          proposal->second.promise.set_value(
              Error{ErrorCode::kProposalDropped, "a new leader replaced the entry before it committed"});
        }
        work.proposals.erase(proposal);
      }
    }
    for (auto& [index, proposal] : work.proposals) {
      proposal.promise.set_value(Error{ErrorCode::kProposalDropped, "entry was not applied"});
    }
    for (auto& [index, promise] : work.reads) waiting_reads.emplace(index, std::move(promise));
    release_reads();
  }
  for (auto& [index, promise] : waiting_reads) promise.set_value(stopped_error());
}

}  // namespace raft
