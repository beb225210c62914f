// store_writer: the writing half of store_power_loss_test, in a process of
// its own so that the test can kill it (SIGKILL) with writes in flight and
// then cut the disk's power, as a machine losing power takes its processes
// along.
//
//   store_writer DIRECTORY COMMANDS [--keep-writing]
//   store_writer DIRECTORY COMMANDS --restore INDEX REFERENCE_DIRECTORY [--report-before-restore]
//
// Opens the kv::Store in DIRECTORY and applies COMMANDS numbered commands
// (numbered_commands.h) after its applied index. With --restore, it then
// restores a snapshot of the state after commands 1..INDEX (built in a
// store in REFERENCE_DIRECTORY, off the power-loss disk) as an installed
// snapshot is restored, and applies COMMANDS more after it. It writes one
// byte to descriptor 3 when done (or, with --report-before-restore, just
// before the restore) and waits to be killed -- or, with --keep-writing, goes on
// applying commands until it is, so that the kill lands anywhere: in a
// write, a memtable switch, a flush. Exit status: 2 usage, 10 the store
// would not open, 11 an apply failed, 12 the restore failed.

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/powerloss/numbered_commands.h"

namespace {

using namespace raftkv::powerloss;

// The test reads reports from descriptor 3: standard output carries the
// store's log, whose first byte must not pass for a report.
constexpr int kReportFd = 3;

void report() {
  (void)!::write(kReportFd, "k", 1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4 && argc != 6 && argc != 7) return 2;
  const std::string directory = argv[1];
  const std::size_t commands = std::strtoull(argv[2], nullptr, 10);
  const bool keep_writing = argc == 4 && std::strcmp(argv[3], "--keep-writing") == 0;
  if (argc == 4 && !keep_writing) return 2;
  const bool restores = argc >= 6 && std::strcmp(argv[3], "--restore") == 0;
  if (argc >= 6 && !restores) return 2;
  const bool report_before_restore = argc == 7 && std::strcmp(argv[6], "--report-before-restore") == 0;
  if (argc == 7 && !report_before_restore) return 2;

  SnapshotBlocks snapshot;
  raft::Index snapshot_index = 0;
  if (restores) {
    snapshot_index = std::strtoull(argv[4], nullptr, 10);
    auto reference = kv::Store::open(argv[5]);
    if (!reference.ok() || !apply_commands(*reference.value(), 1, snapshot_index).ok() ||
        !reference.value()->view()->write(snapshot).ok()) {
      return 12;
    }
  }

  auto opened = kv::Store::open(directory, small_memory());
  if (!opened.ok()) return 10;
  kv::Store& store = *opened.value();
  if (!apply_commands(store, store.applied_index() + 1, commands).ok()) return 11;
  if (restores) {
    if (report_before_restore) report();
    if (!store.restore(snapshot_index, snapshot).ok()) return 12;
    if (!apply_commands(store, snapshot_index + 1, commands).ok()) return 11;
  }
  report();
  for (raft::Index next = store.applied_index() + 1; keep_writing; next += kCommandsPerBatch) {
    if (!apply_commands(store, next, kCommandsPerBatch).ok()) return 11;
  }
  ::pause();
  return 0;
}
