#pragma once
// raftkvd --restore FILE: founding a new cluster from a backup. The file is
// checked end to end before anything is written; a member whose data
// directory already holds data refuses (a restore never overwrites a
// member); otherwise the backup becomes the founding snapshot
// (raft::ServerOptions::founding_state).

#include <memory>
#include <string>

#include "raft/server.h"
#include "raft/standalone_snapshot_file.h"
#include "raft/storage.h"

namespace raftkv {

// `backup` receives the open file, which the returned state reads from:
// keep it until the server has started.
raft::Result<raft::ServerOptions::FoundingState> founding_state_from_backup(
    const std::string& path, raft::Storage& storage, std::unique_ptr<raft::StandaloneSnapshotFile>& backup);

}  // namespace raftkv
