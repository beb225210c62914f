#pragma once
// The snapshot file format: what a node writes from its state machine, what
// travels in InstallSnapshot chunks, and what a follower checks before it
// installs anything.
//
//   magic     8 bytes "RKVSNAP1"
//   frame     the header: SnapshotMetadata (index, term, voters; size 0)
//   frame*    the state machine's blocks, in order
//   frame     an empty one, marking the end
//
// A frame is the payload's length (4 bytes, big-endian), its CRC-32C and the
// payload (storage_record::seal). A garbled byte fails a checksum, a lost
// tail lacks the end frame, and a file of another snapshot has the wrong
// header: each is found before the state machine sees a byte.

#include <memory>
#include <string>

#include "raft/snapshot_store.h"
#include "raft/state_machine.h"

namespace raft::snapshot_file {

// The largest frame a reader accepts, so a damaged length cannot make it
// allocate without bound.
constexpr std::size_t kMaxFrameBytes = 64 << 20;

// Writes a snapshot file into `writer`: the header at construction, one
// frame per block, and the end frame at finish().
class Encoder final : public SnapshotSink {
 public:
  Encoder(SnapshotFileWriter& writer, const pb::SnapshotMetadata& header);
  Status write(std::string_view block) override;
  // Writes the end frame; returns the metadata with the file's size.
  Result<pb::SnapshotMetadata> finish();

 private:
  SnapshotFileWriter& writer_;
  pb::SnapshotMetadata header_;
  Status status_;
};

// Reads the blocks of the committed snapshot `snapshot` from `store`, a
// frame at a time. It fails when the file does not match `snapshot` or any
// frame is damaged.
class Decoder final : public SnapshotSource {
 public:
  Decoder(SnapshotStore& store, const pb::SnapshotMetadata& snapshot);
  Result<bool> next(std::string& block) override;

 private:
  friend Result<pb::SnapshotMetadata> read_metadata(SnapshotStore& store, Index index);
  // The magic and the header frame, parsed but not compared with snapshot_.
  Result<pb::SnapshotMetadata> read_header();
  Result<std::string> read_frame();
  Error damaged(const std::string& what) const;

  SnapshotStore& store_;
  pb::SnapshotMetadata snapshot_;
  std::uint64_t offset_ = 0;
  bool header_checked_ = false;
  bool ended_ = false;
};

// The metadata a snapshot file at `index` of `store` carries in its header,
// with its size: how to open a file whose index and term are not known yet
// (a backup). Only the header is checked; verify() checks the rest.
Result<pb::SnapshotMetadata> read_metadata(SnapshotStore& store, Index index);

// Reads the whole file once, checking every frame: a received snapshot
// passes this before it is installed.
Status verify(SnapshotStore& store, const pb::SnapshotMetadata& snapshot);

}  // namespace raft::snapshot_file
