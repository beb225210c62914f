#include "raft/node.h"

#include <cassert>

#include "raft/log_payloads.h"
#include "raft/membership.h"

namespace raft {

namespace {

Error storage_failed() {
  return Error{ErrorCode::kStorage, "storage failed; the node stopped to protect its data"};
}

}  // namespace

Node::Node(NodeOptions options, RestoredState restored, Storage& storage, SnapshotStore& snapshots,
           NodeTime now)
    : options_(std::move(options)),
      storage_(storage),
      snapshots_(snapshots),
      core_(std::make_unique<Core>(options_.core, std::move(restored))),
      now_(now),
      next_tick_(now + options_.tick_interval) {
  note_membership();
}

// ----------------------------------------------------------------- inputs --

void Node::advance_time(NodeTime now) {
  if (stopped_) return;
  now_ = now;
  if (now >= next_tick_) {
    // After a stall (a slow disk, a paused process) tick once and resume
    // the schedule from now: replaying the missed ticks in a burst would
    // fire election timeouts all at once.
    next_tick_ += options_.tick_interval;
    if (next_tick_ <= now) next_tick_ = now + options_.tick_interval;
    if (writing_) {
      tick_held_ = true;  // the core takes no input while a write is in flight
    } else {
      core_->tick();
      after_step();
    }
  }
  expire(now);
  check_transfer();
}

void Node::receive(pb::Message message) {
  if (stopped_) return;
  if (writing_) {
    held_.emplace_back(std::move(message));
    return;
  }
  feed(std::move(message));
}

void Node::propose(std::string command, ProposalDone done, NodeTime deadline) {
  Held input = Propose{std::move(command), std::move(done), deadline};
  if (stopped_) return refuse(input, *stopped_);
  if (writing_) return held_.push_back(std::move(input));
  feed(std::move(input));
}

void Node::read_index(ReadDone done) {
  Held input = Read{std::move(done)};
  if (stopped_) return refuse(input, *stopped_);
  if (writing_) return held_.push_back(std::move(input));
  feed(std::move(input));
}

void Node::change_membership(const MembershipChange& change, ProposalDone done) {
  Held input = ChangeMembership{change, std::move(done)};
  if (stopped_) return refuse(input, *stopped_);
  if (writing_) return held_.push_back(std::move(input));
  feed(std::move(input));
}

void Node::transfer_leadership(NodeId target, TransferDone done) {
  Held input = Transfer{target, std::move(done)};
  if (stopped_) return refuse(input, *stopped_);
  if (writing_) return held_.push_back(std::move(input));
  feed(std::move(input));
}

void Node::snapshot_taken(pb::SnapshotMetadata snapshot) {
  if (stopped_) return;
  if (writing_) {
    held_.emplace_back(SnapshotTaken{std::move(snapshot)});
    return;
  }
  feed(SnapshotTaken{std::move(snapshot)});
}

void Node::feed(Held input) {
  if (auto* message = std::get_if<pb::Message>(&input)) {
    core_->step(*message);
  } else if (auto* propose = std::get_if<Propose>(&input)) {
    if (now_ >= propose->deadline) {
      // Its caller has its answer (a timeout) already: proposing it now
      // would only spend the log on a write nobody waits for.
      propose->done(Error{ErrorCode::kExpired, "the deadline passed before the write was proposed"});
    } else {
      track(core_->propose(std::move(propose->command)), std::move(propose->done));
    }
  } else if (auto* read = std::get_if<Read>(&input)) {
    const std::uint64_t id = next_read_id_++;
    pending_reads_.emplace(id, PendingRead{now_ + options_.read_timeout, std::move(read->done)});
    core_->read_index(id);
  } else if (auto* change = std::get_if<ChangeMembership>(&input)) {
    track(core_->change_membership(change->change), std::move(change->done));
  } else if (auto* transfer = std::get_if<Transfer>(&input)) {
    start_transfer(*transfer);
  } else if (auto* taken = std::get_if<SnapshotTaken>(&input)) {
    record_snapshot(taken->snapshot);
  }
  after_step();
}

void Node::track(Result<ProposalTicket> ticket, ProposalDone done) {
  if (!ticket.ok()) {
    done(ticket.error());
    return;
  }
  pending_proposals_.emplace(ticket.value().index, PendingProposal{ticket.value().term, std::move(done)});
}

void Node::start_transfer(Transfer& request) {
  Status started = core_->transfer_leadership(request.target);
  if (!started.ok() || request.target == core_->id()) {
    request.done(std::move(started));
    return;
  }
  if (transfer_) {
    transfer_->done(Error{ErrorCode::kFailedPrecondition,
                          "a transfer to node " + std::to_string(request.target) + " replaced it"});
  }
  transfer_ = PendingTransfer{request.target, now_ + options_.transfer_timeout, std::move(request.done)};
}

void Node::record_snapshot(const pb::SnapshotMetadata& snapshot) {
  // A snapshot written out while a newer one was installed is stale.
  if (snapshot.index() <= core_->snapshot().index()) return;
  const Index through =
      snapshot.index() > options_.compaction_margin ? snapshot.index() - options_.compaction_margin : 0;
  // The file is committed (durable) already, so the log may go in memory
  // now; the write records it and compacts the stored log, and until it
  // completes the node takes no other input.
  core_->compact(snapshot, through);
  DiskWrite write;
  write.record_taken = snapshot;
  write.compact_through = core_->log().base_index();
  write.sync = true;  // before older snapshot files go (DiskWriter::completed)
  writing_ = true;
  output_.write = std::move(write);
}

void Node::write_done(DiskWriteResult result) {
  assert(writing_ && "write_done() without a write in flight");
  writing_ = false;
  if (stopped_ || !result.status.ok()) {
    // What the write was to make durable may not be: nothing it would
    // release (acknowledgements, applies) goes out.
    ready_in_flight_.reset();
    if (!stopped_) stop(storage_failed());
    return;
  }
  if (ready_in_flight_) {
    Ready ready = std::move(*ready_in_flight_);
    ready_in_flight_.reset();
    // Votes and acknowledgements promise durability: only after the write.
    for (pb::Message& message : ready.messages_after_persist) {
      if (fill(message)) output_.messages.push_back(std::move(message));
    }
    core_->advance(ready);
    for (const auto& [index, intact] : result.snapshots_received) core_->snapshot_received(index, intact);

    ApplyWork work;
    if (ready.snapshot) {
      work.restore = *ready.snapshot;
      // Proposals this node made as an earlier leader, now inside the
      // snapshot: whether they committed cannot be told any more.
      while (!pending_proposals_.empty() && pending_proposals_.begin()->first <= ready.snapshot->index()) {
        auto node = pending_proposals_.extract(pending_proposals_.begin());
        work.proposals.emplace(node.key(), std::move(node.mapped()));
      }
    }
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
    if (work.restore || !work.entries.empty() || !work.reads.empty() || !work.proposals.empty()) {
      output_.apply.push_back(std::move(work));
    }
  }
  after_step();
  if (tick_held_) {
    tick_held_ = false;
    core_->tick();
    after_step();
  }
  // Everything that arrived during the write, in order; then one Ready
  // covers it all (group commit). A taken snapshot starts a write of its
  // own: the rest waits for that one.
  while (!held_.empty() && !writing_ && !stopped_) {
    Held input = std::move(held_.front());
    held_.pop_front();
    feed(std::move(input));
  }
}

void Node::stop(const Error& error) {
  if (stopped_) return;
  stopped_ = error;
  if (transfer_) {
    transfer_->done(error);
    transfer_.reset();
  }
  fail_pending(error);
  for (Held& input : held_) refuse(input, error);
  held_.clear();
}

// ---------------------------------------------------------------- outputs --

bool Node::has_output() const {
  return !output_.empty() || (!writing_ && !stopped_ && core_->has_ready());
}

NodeOutput Node::take_output() {
  // The core's next Ready is taken only now, so that every input the
  // driver fed since the last one shares it (one write for all of them).
  pump();
  return std::exchange(output_, NodeOutput{});
}

NodeTime Node::next_deadline() const {
  return next_tick_;
}

void Node::pump() {
  if (stopped_ || writing_ || !core_->has_ready()) return;
  Ready ready = core_->ready();
  if (ready.soft_state) output_.soft_state = *ready.soft_state;
  for (pb::Message& message : ready.messages) {
    if (fill(message)) output_.messages.push_back(std::move(message));
    if (stopped_) return;
  }
  DiskWrite write;
  write.snapshot_chunks = std::move(ready.snapshot_chunks);
  write.install = ready.snapshot;
  write.hard_state = ready.hard_state;
  // An installed snapshot is acknowledged and replaces the log: durable first.
  const bool installs = ready.snapshot.has_value();
  write.sync = installs ? true : ready.must_sync;
  if (!ready.entries.empty()) {
    // Core::advance() reads only the last entry's index: the entries
    // themselves go to the disk without a copy.
    pb::Entry last;
    last.set_index(ready.entries.back().index());
    last.set_term(ready.entries.back().term());
    write.entries = std::move(ready.entries);
    ready.entries = {std::move(last)};
  }
  writing_ = true;
  ready_in_flight_ = std::move(ready);
  if (write.empty()) {
    // Nothing to write (only messages, committed entries or read points):
    // done at once, in the same order.
    write_done(DiskWriteResult{});
    return;
  }
  output_.write = std::move(write);
}

bool Node::fill(pb::Message& message) {
  if (message.has_install_snapshot()) {
    pb::InstallSnapshot* chunk = message.mutable_install_snapshot();
    const pb::SnapshotMetadata& snapshot = chunk->snapshot();
    // A chunk announced before a newer snapshot replaced this one is
    // dropped; the next heartbeat starts sending the newer one.
    if (snapshot.index() < core_->snapshot().index()) return false;
    const std::uint64_t end = snapshot_chunk_end(core_->config(), chunk->offset(), snapshot.size());
    Result<std::string> bytes = snapshots_.read(snapshot.index(), chunk->offset(), end - chunk->offset());
    if (!bytes.ok() || bytes.value().size() != end - chunk->offset()) {
      // The next heartbeat asks for this chunk again.
      output_.log.emplace_back(true,
                               "cannot read snapshot " + std::to_string(snapshot.index()) + ": " +
                                   (bytes.ok() ? "it is shorter than recorded" : bytes.error().to_string()));
      return false;
    }
    chunk->set_data(std::move(bytes).value());
    return true;
  }
  Result<PayloadFill> filled =
      fill_dropped_payloads(message, core_->log().payloads_from(), core_->log().base_index(), storage_);
  if (!filled.ok()) {
    // The log could not be read back: the disk is failing.
    output_.log.emplace_back(true, filled.error().to_string());
    stop(storage_failed());
    return false;
  }
  return filled.value() == PayloadFill::kReady;  // kCompacted: the next heartbeat sends the snapshot
}

// -------------------------------------------------------------- bookkeeping --

void Node::after_step() {
  note_membership();
  check_transfer();
}

void Node::note_membership() {
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
    PeerUpdate update;
    for (const auto& [index, membership] : history.all()) {
      if (index < committed_at) continue;
      for (const auto* list :
           {&membership.configuration().voters(), &membership.configuration().learners()}) {
        for (const pb::Member& member : *list) update.members[member.id()] = member.address();
      }
    }
    // Only a committed removal is final: an uncommitted one may yet be
    // truncated away, and the node must not be told so before.
    const pb::Configuration& committed = history.at(committed_at).configuration();
    update.removed.assign(committed.removed().begin(), committed.removed().end());
    output_.peers = std::move(update);
    if (changed && history.latest_index() > 0) {
      output_.log.emplace_back(false, "configuration at index " + std::to_string(history.latest_index()) +
                                          ": " + history.latest().describe());
    }
  }
  if (core_->removed() && !removal_noted_) {
    removal_noted_ = true;
    output_.log.emplace_back(true, "this node was removed from the cluster; it no longer votes or serves");
    // Nothing pending here beyond the commit index will be decided here any
    // more: this node hears no more of the log. What it committed -- the
    // removal itself, when it led -- it still applies, and answers then.
    fail_pending(Error{ErrorCode::kTimeout,
                       "this member was removed from the cluster; whether the request took effect is unknown "
                       "here (ask another member)"},
                 core_->log().committed());
  }
}

void Node::check_transfer() {
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
             now_ >= transfer_->deadline) {
    // The core gave up after an election timeout without the target
    // taking over (or the whole wait ran out mid-election, when this node
    // no longer leads and knows nothing of the target's log).
    std::string why;
    if (core_->role() != Role::kLeader) {
      why =
          "an election is under way (term " + std::to_string(core_->term()) + ") and no leader is known yet";
    } else if (auto progress = core_->followers().find(target); progress != core_->followers().end()) {
      why = "this leader knows its log to match up to index " + std::to_string(progress->second.match_index) +
            " of " + std::to_string(core_->log().last_index()) +
            " (lagging or unreachable); leadership stays here";
    } else {
      why = "it is not a follower of this leader";
    }
    outcome =
        Error{ErrorCode::kTimeout, "node " + std::to_string(target) + " did not take over in time: " + why};
  }
  if (!outcome) return;
  TransferDone done = std::move(transfer_->done);
  transfer_.reset();
  done(*outcome);
}

void Node::expire(NodeTime now) {
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (it->second.deadline <= now) {
      it->second.done(Error{ErrorCode::kTimeout, "no leader confirmed the read in time", core_->leader()});
      it = pending_reads_.erase(it);
    } else {
      ++it;
    }
  }
}

void Node::fail_pending(const Error& error, Index keep_through) {
  for (auto it = pending_proposals_.upper_bound(keep_through); it != pending_proposals_.end();) {
    it->second.done(error);
    it = pending_proposals_.erase(it);
  }
  for (auto& [id, read] : pending_reads_) read.done(error);
  pending_reads_.clear();
}

void Node::refuse(Held& input, const Error& error) {
  if (auto* propose = std::get_if<Propose>(&input)) propose->done(error);
  if (auto* read = std::get_if<Read>(&input)) read->done(error);
  if (auto* change = std::get_if<ChangeMembership>(&input)) change->done(error);
  if (auto* transfer = std::get_if<Transfer>(&input)) transfer->done(error);
}

// ------------------------------------------------------------- invariants --

std::string Node::check_invariants() const {
  const Core& core = *core_;
  const RaftLog& log = core.log();
  auto broken = [](const std::string& what) { return "node invariant broken: " + what; };
  if (log.committed() > log.last_index()) return broken("commit index past the end of the log");
  if (log.applied() > log.committed()) return broken("applied index past the commit index");
  if (log.first_index() != log.base_index() + 1) return broken("the log does not start right after its base");
  if (core.snapshot().index() > log.committed()) return broken("a snapshot of entries not committed");
  if (log.base_index() > core.snapshot().index() && log.base_index() > 0)
    return broken("the log was compacted past the latest snapshot");
  if (core.role() == Role::kLeader && core.leader() != core.id())
    return broken("a leader that names another");
  if (core.role() != Role::kLeader && core.leader() == core.id())
    return broken("a node that is not leading names itself leader");
  if (core.role() == Role::kLeader) {
    for (const auto& [peer, progress] : core.followers()) {
      if (progress.match_index > log.last_index()) return broken("a follower matches past the leader's log");
      if (progress.next_index <= progress.match_index)
        return broken("a follower's next index at or below its match");
    }
  }
  if (!writing_ && !held_.empty()) return broken("inputs held with no write in flight");
  if (ready_in_flight_ && !writing_) return broken("a Ready in flight with no write");
  // (While a write is in flight the core may be ahead: an installed
  // snapshot moves its applied index before the driver records it.)
  if (!writing_ && !pending_proposals_.empty() && pending_proposals_.begin()->first <= log.applied())
    return broken("a proposal at index " + std::to_string(pending_proposals_.begin()->first) +
                  ", already handed to the state machine (applied " + std::to_string(log.applied()) +
                  "), is still pending");
  if (stopped_ && (!pending_proposals_.empty() || !pending_reads_.empty() || transfer_))
    return broken("a stopped node with requests still pending");
  return "";
}

}  // namespace raft
