// The child of the storage crash test: opens a RocksDbStorage, then performs
// the CrashWorkload's operations (synced saves, snapshots, compactions) one
// after another, printing "synced K" after the K-th returns, until it is
// killed. (A compaction is not synced, but a SIGKILL does not lose what
// RocksDB handed to the kernel.)
//
//   storage_crash_child DIRECTORY SEED

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "raft/rocksdb_storage.h"
#include "tests/integration/crash_workload.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: storage_crash_child DIRECTORY SEED\n");
    return 2;
  }
  // Standard output carries the lines the test reads; log lines (RocksDB's
  // warnings about a torn tail it recovered from, say) go to standard error.
  spdlog::set_default_logger(spdlog::stderr_color_mt("stderr"));
  auto storage = raft::RocksDbStorage::open(argv[1], raft::StorageIdentity{1, 1});
  if (!storage.ok()) {
    std::fprintf(stderr, "%s\n", storage.error().to_string().c_str());
    return 1;
  }
  auto loaded = storage.value()->load();
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.error().to_string().c_str());
    return 1;
  }
  raft::testing::CrashWorkload workload(std::move(loaded).value(), std::strtoull(argv[2], nullptr, 10));
  std::printf("ready\n");
  std::fflush(stdout);
  for (unsigned long long k = 1;; ++k) {
    const raft::testing::Save save = workload.next();
    const raft::Status saved = raft::testing::perform(*storage.value(), save);
    if (!saved.ok()) {
      std::fprintf(stderr, "%s\n", saved.error().to_string().c_str());
      return 1;
    }
    workload.apply(save);
    std::printf("synced %llu\n", k);
    std::fflush(stdout);
  }
}
