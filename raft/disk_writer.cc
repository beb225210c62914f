#include "raft/disk_writer.h"

#include "raft/snapshot_file.h"

namespace raft {

DiskWriter::DiskWriter(Storage& storage, SnapshotStore& snapshots)
    : storage_(storage), snapshots_(snapshots) {}

Status DiskWriter::receive(const pb::InstallSnapshot& chunk, DiskWriteResult& result,
                           std::vector<std::string>& notes) {
  const pb::SnapshotMetadata& snapshot = chunk.snapshot();
  if (chunk.offset() == 0) {
    Result<std::unique_ptr<SnapshotFileWriter>> created = snapshots_.create(snapshot.index());
    if (!created.ok()) return created.error();
    incoming_ = std::move(created).value();
  }
  // The core hands out chunks in order from offset 0, so this holds unless
  // an earlier write failed, which stopped the node.
  if (!incoming_ || incoming_->size() != chunk.offset()) {
    return Error{ErrorCode::kStorage, "snapshot " + std::to_string(snapshot.index()) + ": chunk at offset " +
                                          std::to_string(chunk.offset()) + " out of order"};
  }
  if (Status appended = incoming_->append(chunk.data()); !appended.ok()) return appended;
  if (!chunk.done()) return {};
  if (Status committed = incoming_->commit(); !committed.ok()) return committed;
  incoming_.reset();
  // Every byte is checked before anything depends on it: a damaged
  // snapshot is deleted and fetched again.
  const Status intact = snapshot_file::verify(snapshots_, snapshot);
  if (!intact.ok()) {
    notes.push_back(intact.error().to_string() + "; asking for it again");
    (void)snapshots_.remove(snapshot.index());
  }
  result.snapshots_received.emplace_back(snapshot.index(), intact.ok());
  return {};
}

DiskWriteResult DiskWriter::write(const DiskWrite& write, std::vector<std::string>& notes) {
  DiskWriteResult result;
  auto failed = [&](Status status) {
    result.status = std::move(status);
    return result;
  };
  for (const pb::InstallSnapshot& chunk : write.snapshot_chunks) {
    if (Status received = receive(chunk, result, notes); !received.ok()) return failed(received);
  }
  // Storage first: once it records the snapshot (dropping the log), a crash
  // before the state machine has restored is finished at the next start.
  if (write.install) {
    if (Status saved = storage_.save_snapshot(*write.install); !saved.ok()) return failed(saved);
  }
  if (write.hard_state || !write.entries.empty()) {
    const Status saved =
        storage_.save(write.hard_state ? &*write.hard_state : nullptr, write.entries, write.sync);
    if (!saved.ok()) return failed(saved);
  }
  if (write.record_taken) {
    if (Status saved = storage_.save_snapshot(*write.record_taken); !saved.ok()) return failed(saved);
    if (Status compacted = storage_.compact(write.compact_through); !compacted.ok()) return failed(compacted);
  }
  return result;
}

void DiskWriter::completed(const DiskWrite& write, std::vector<std::string>& notes) {
  if (!write.record_taken) return;
  if (Status cleaned = snapshots_.remove_before(write.record_taken->index()); !cleaned.ok()) {
    // Only costs disk space until the next snapshot.
    notes.push_back(cleaned.error().to_string());
  }
}

}  // namespace raft
