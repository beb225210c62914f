#include "raft/applier.h"

#include "raft/snapshot_file.h"

namespace raft {

namespace {

// The most commands handed to StateMachine::apply_all at once.
constexpr std::size_t kMaxApplyBatch = 1024;
constexpr std::size_t kMaxApplyBatchBytes = 4 << 20;

}  // namespace

Status restore_state_machine(StateMachine& machine, SnapshotStore& snapshots,
                             const pb::SnapshotMetadata& snapshot) {
  // Check the whole file first, so the state machine never starts on bytes
  // that turn out to be damaged.
  if (Status intact = snapshot_file::verify(snapshots, snapshot); !intact.ok()) return intact;
  snapshot_file::Decoder decoder(snapshots, snapshot);
  return machine.restore(snapshot.index(), decoder);
}

Result<EncodedSnapshot> encode_snapshot(SnapshotStore& snapshots, SnapshotJob& job) {
  Result<std::unique_ptr<SnapshotFileWriter>> writer = snapshots.create(job.header.index());
  if (!writer.ok()) return writer.error();
  snapshot_file::Encoder encoder(*writer.value(), job.header);
  if (Status status = job.view->write(encoder); !status.ok()) return status.error();
  Result<pb::SnapshotMetadata> finished = encoder.finish();
  if (!finished.ok()) return finished.error();
  return EncodedSnapshot{std::move(writer).value(), std::move(finished).value()};
}

Result<pb::SnapshotMetadata> write_snapshot(SnapshotStore& snapshots, SnapshotJob& job) {
  Result<EncodedSnapshot> encoded = encode_snapshot(snapshots, job);
  if (!encoded.ok()) return encoded.error();
  if (Status committed = encoded.value().file->commit(); !committed.ok()) return committed.error();
  return encoded.value().metadata;
}

Result<RestoredState> recover(PersistentState state, StateMachine& machine, SnapshotStore& snapshots) {
  if (state.snapshot.index() > machine.applied_index()) {
    if (Status restored = restore_state_machine(machine, snapshots, state.snapshot); !restored.ok())
      return restored.error();
  }
  if (Status cleaned = snapshots.remove_all_except(state.snapshot.index()); !cleaned.ok())
    return cleaned.error();
  RestoredState restored;
  restored.hard_state = std::move(state.hard_state);
  restored.snapshot = std::move(state.snapshot);
  restored.log_base = std::move(state.log_base);
  restored.entries = std::move(state.entries);
  restored.applied = machine.applied_index();  // the state machine replays the log after it
  return restored;
}

Applier::Applier(ApplierOptions options, StateMachine& machine, SnapshotStore& snapshots,
                 const pb::SnapshotMetadata& snapshot, pb::Configuration configuration)
    : options_(options),
      machine_(machine),
      snapshots_(snapshots),
      last_index_(machine.applied_index()),
      last_snapshot_index_(snapshot.index()),
      configuration_(std::move(configuration)) {}

Status Applier::apply(ApplyWork work) {
  auto fail = [&](const Error& error) -> Status {
    for (auto& [index, proposal] : work.proposals) proposal.done(error);
    for (auto& [index, done] : work.reads) done(error);
    return error;
  };
  if (work.restore) {
    const pb::SnapshotMetadata& snapshot = *work.restore;
    if (Status restored = restore_state_machine(machine_, snapshots_, snapshot); !restored.ok()) {
      return fail(restored.error());
    }
    ++snapshots_restored_;
    last_index_ = snapshot.index();
    // Older snapshots are of no use now, to this node or to others.
    (void)snapshots_.remove_before(snapshot.index());
    last_snapshot_index_ = snapshot.index();
    bytes_since_snapshot_ = 0;
    last_command_index_ = snapshot.index();
    last_command_term_ = snapshot.term();
    configuration_ = snapshot.configuration();
    while (!work.proposals.empty() && work.proposals.begin()->first <= snapshot.index()) {
      work.proposals.begin()->second.done(
          Error{ErrorCode::kTimeout,
                "the entry's outcome is unknown: a snapshot replaced it before it applied here"});
      work.proposals.erase(work.proposals.begin());
    }
    if (on_restored) on_restored(snapshot);
  }
  if (Status applied = apply_entries(work); !applied.ok()) return fail(applied.error());
  for (auto& [index, proposal] : work.proposals) {
    proposal.done(Error{ErrorCode::kProposalDropped, "entry was not applied"});
  }
  for (auto& [index, done] : work.reads) waiting_reads_.emplace(index, std::move(done));
  release_reads();
  return {};
}

Status Applier::apply_entries(ApplyWork& work) {
  for (std::size_t next = 0; next < work.entries.size();) {
    // The commands of a run of entries, applied together (one write to the
    // state machine's disk for many commands), bounded so that a long
    // catch-up does not build one huge batch.
    std::vector<CommittedCommand> commands;
    std::size_t end = next;
    std::size_t bytes = 0;
    for (; end < work.entries.size() && commands.size() < kMaxApplyBatch && bytes < kMaxApplyBatchBytes;
         ++end) {
      const pb::Entry& entry = work.entries[end];
      if (entry.type() == pb::ENTRY_COMMAND && entry.index() > machine_.applied_index()) {
        commands.push_back(CommittedCommand{entry.index(), entry.data()});
        bytes += entry.data().size();
      }
    }
    std::vector<std::string> results;
    if (!commands.empty()) {
      Result<std::vector<std::string>> applied = machine_.apply_all(commands);
      if (!applied.ok()) {
        return Error{applied.error().code, "cannot apply indexes " + std::to_string(commands.front().index) +
                                               ".." + std::to_string(commands.back().index) + ": " +
                                               applied.error().message};
      }
      results = std::move(applied).value();
    }
    std::size_t result = 0;
    for (; next < end; ++next) {
      const pb::Entry& entry = work.entries[next];
      if (entry.type() == pb::ENTRY_CONFIGURATION) {
        // The core checked that it parses before it took the entry.
        configuration_.ParseFromString(entry.data());
      }
      std::string answer;
      if (result < commands.size() && commands[result].index == entry.index()) {
        answer = std::move(results[result++]);
        bytes_since_snapshot_ += entry.data().size();
        last_command_index_ = entry.index();
        last_command_term_ = entry.term();
      }
      last_index_ = entry.index();
      if (on_entry_applied) on_entry_applied(entry);
      auto proposal = work.proposals.find(entry.index());
      if (proposal == work.proposals.end()) continue;
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
  return {};
}

void Applier::release_reads() {
  while (!waiting_reads_.empty() && waiting_reads_.begin()->first <= last_index_) {
    auto node = waiting_reads_.extract(waiting_reads_.begin());
    node.mapped()(node.key());
  }
}

void Applier::fail_waiting_reads(const Error& error) {
  for (auto& [index, done] : waiting_reads_) done(error);
  waiting_reads_.clear();
}

std::optional<SnapshotJob> Applier::snapshot_if_due() {
  if (snapshot_running_) return std::nullopt;
  const Index applied = machine_.applied_index();
  const bool due =
      (options_.snapshot_entries > 0 && applied >= last_snapshot_index_ + options_.snapshot_entries) ||
      (options_.snapshot_bytes > 0 && bytes_since_snapshot_ >= options_.snapshot_bytes);
  // The snapshot's term is that of the state machine's last command, known
  // once it applied one in this run.
  if (!due || applied <= last_snapshot_index_ || applied != last_command_index_) return std::nullopt;
  std::unique_ptr<StateMachineView> view = machine_.view();
  if (view->index() != applied) return std::nullopt;  // a state machine that moved on: try again later
  SnapshotJob job;
  job.view = std::move(view);
  job.header.set_index(applied);
  job.header.set_term(last_command_term_);
  *job.header.mutable_configuration() = configuration_;
  last_snapshot_index_ = applied;
  bytes_since_snapshot_ = 0;
  snapshot_running_ = true;
  return job;
}

void Applier::snapshot_done() {
  snapshot_running_ = false;
}

}  // namespace raft
