#include "daemon/restore.h"

#include <spdlog/spdlog.h>

#include "raft/snapshot_file.h"

namespace raftkv {

raft::Result<raft::ServerOptions::FoundingState> founding_state_from_backup(
    const std::string& path, raft::Storage& storage, std::unique_ptr<raft::StandaloneSnapshotFile>& backup) {
  auto invalid = [&](const std::string& why) {
    return raft::Error{raft::ErrorCode::kInvalidArgument, "cannot restore from " + path + ": " + why};
  };
  auto opened = raft::StandaloneSnapshotFile::open(path);
  if (!opened.ok()) return invalid(opened.error().message);
  backup = std::move(opened).value();
  auto metadata = raft::snapshot_file::read_metadata(*backup, 0);
  if (!metadata.ok()) return invalid("it is not a raftkv backup (" + metadata.error().to_string() + ")");
  if (raft::Status intact = raft::snapshot_file::verify(*backup, metadata.value()); !intact.ok())
    return invalid(intact.error().to_string());

  auto persisted = storage.load();
  if (!persisted.ok()) return persisted.error();
  const raft::PersistentState& state = persisted.value();
  if (state.hard_state.term() != 0 || !state.entries.empty() || state.snapshot.index() != 0) {
    return invalid(
        "the data directory already holds a member's data, and a restore only founds a new cluster (give "
        "it an empty data directory)");
  }
  spdlog::info("founding the cluster from the backup {} (index {}, {} bytes)", path, metadata.value().index(),
               metadata.value().size());
  raft::ServerOptions::FoundingState founding;
  founding.index = metadata.value().index();
  founding.write = [file = backup.get(),
                    header = metadata.value()](raft::SnapshotSink& sink) -> raft::Status {
    raft::snapshot_file::Decoder decoder(*file, header);
    std::string block;
    while (true) {
      raft::Result<bool> more = decoder.next(block);
      if (!more.ok()) return more.error();
      if (!more.value()) return {};
      if (raft::Status written = sink.write(block); !written.ok()) return written;
    }
  };
  return founding;
}

}  // namespace raftkv
