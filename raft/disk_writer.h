#pragma once
// Carries out a Node's DiskWrite (raft/node.h) on a Storage and a
// SnapshotStore, in the order the Ready contract asks:
//
//   1. the received snapshot chunks, appended in order; when one completes
//      a snapshot, the file is committed and checked end to end -- a
//      damaged one is deleted (and reported, so the leader sends it again);
//   2. the installed snapshot, recorded in storage (the log goes with it);
//   3. entries and hard state, in one save, synced when asked;
//   4. a snapshot the node took, recorded; the stored log compacted.
//
// Once the write is durable, completed() deletes the snapshot files the
// write made obsolete -- not before: a crash must never find the log
// recording a snapshot whose file is gone.
//
// Whatever fails stops there and is reported: the node then stops. One per
// node, on the thread that drives the node (it keeps the snapshot being
// received between writes). raft::Server and the simulation both use it,
// over their own Storage and SnapshotStore.

#include <memory>
#include <string>
#include <vector>

#include "raft/node.h"
#include "raft/snapshot_store.h"
#include "raft/storage.h"

namespace raft {

class DiskWriter {
 public:
  DiskWriter(Storage& storage, SnapshotStore& snapshots);

  // Also fills `notes` with lines worth an operator's log (a damaged
  // snapshot fetched again, snapshot files that could not be deleted).
  DiskWriteResult write(const DiskWrite& write, std::vector<std::string>& notes);
  // After `write` is durable (synced): deletes what it made obsolete.
  void completed(const DiskWrite& write, std::vector<std::string>& notes);

 private:
  Status receive(const pb::InstallSnapshot& chunk, DiskWriteResult& result, std::vector<std::string>& notes);

  Storage& storage_;
  SnapshotStore& snapshots_;
  std::unique_ptr<SnapshotFileWriter> incoming_;  // the snapshot being received
};

}  // namespace raft
