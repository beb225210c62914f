#pragma once
// raft::SnapshotStore: where a node keeps snapshot files (their bytes; the
// metadata of the latest one is in raft::Storage). A snapshot file is built
// by appending bytes -- written out from the state machine, or received in
// chunks from the leader -- and becomes visible under its index only once
// committed, durably and atomically. Readers fetch byte ranges, which is how
// a leader sends chunks without holding a snapshot in memory.
//
// Thread-safe: the raft loop reads and receives while a snapshot is being
// written out on another thread.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "raft/result.h"
#include "raft/types.h"

namespace raft {

class SnapshotFileWriter {
 public:
  virtual ~SnapshotFileWriter() = default;  // discards an uncommitted file
  virtual Status append(std::string_view bytes) = 0;
  virtual std::uint64_t size() const = 0;
  // Makes the file durable and visible as the snapshot at `index`,
  // replacing any earlier file for that index.
  virtual Status commit() = 0;
};

class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;
  virtual Result<std::unique_ptr<SnapshotFileWriter>> create(Index index) = 0;
  // Bytes [offset, offset + length) of the committed snapshot at `index`
  // (fewer at its end).
  virtual Result<std::string> read(Index index, std::uint64_t offset, std::size_t length) = 0;
  virtual Result<std::uint64_t> size(Index index) = 0;
  // Deletes every committed snapshot other than the one at `keep`, and any
  // file left unfinished by a crash: the clean-up at start.
  virtual Status remove_all_except(Index keep) = 0;
  // Deletes the committed snapshots before `index`: the clean-up once a
  // newer snapshot is recorded. Newer ones stay: one may have been written
  // while the older was being recorded.
  virtual Status remove_before(Index index) = 0;
  virtual Status remove(Index index) = 0;
};

}  // namespace raft
