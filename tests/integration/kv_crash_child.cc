// The child of the key-value crash test: applies kv_command_at(i) to the
// kv::Store in DIRECTORY, printing "applied I" after each apply returns,
// until it is killed. Now and then it instead restores a snapshot that is
// ahead of it, made by a scratch store in SCRATCH that applied further, so
// kills also land in the middle of restores. Three runs in ten start with
// such a restore.
//
//   kv_crash_child DIRECTORY SCRATCH SEED

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "raft/random.h"
#include "tests/integration/kv_crash_workload.h"
#include "tests/unit/memory_snapshot.h"

namespace {

int fail(const raft::Error& error) {
  std::fprintf(stderr, "%s\n", error.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: kv_crash_child DIRECTORY SCRATCH SEED\n");
    return 2;
  }
  // Standard output carries the lines the test reads; log lines (RocksDB's
  // warnings about a torn tail it recovered from, say) go to standard error.
  spdlog::set_default_logger(spdlog::stderr_color_mt("stderr"));
  auto store = kv::Store::open(argv[1]);
  if (!store.ok()) return fail(store.error());
  raft::DeterministicRandom random(std::strtoull(argv[3], nullptr, 10));
  std::printf("ready\n");
  std::fflush(stdout);
  // The scratch store persists across runs and only ever moves forward, so
  // it stays cheap to bring ahead of the store under test.
  auto scratch = kv::Store::open(argv[2]);
  if (!scratch.ok()) return fail(scratch.error());
  // Three runs in ten start with a restore, so that kills land inside them.
  bool restore_next = random.chance(0.3);
  while (true) {
    const raft::Index applied = store.value()->applied_index();
    if (restore_next || random.chance(0.001)) {
      restore_next = false;
      // A snapshot from a store that got further, as a follower receives.
      const raft::Index target = std::max(applied + random.uniform(1, 200), scratch.value()->applied_index());
      for (raft::Index index = scratch.value()->applied_index() + 1; index <= target; ++index) {
        if (auto done = scratch.value()->apply(index, raft::testing::kv_command_at(index)); !done.ok()) {
          return fail(done.error());
        }
      }
      raft::testing::MemorySnapshot snapshot;
      if (auto written = scratch.value()->view()->write(snapshot); !written.ok())
        return fail(written.error());
      std::printf("restoring %llu\n", static_cast<unsigned long long>(target));
      std::fflush(stdout);
      if (auto restored = store.value()->restore(target, snapshot); !restored.ok())
        return fail(restored.error());
    } else if (auto done = store.value()->apply(applied + 1, raft::testing::kv_command_at(applied + 1));
               !done.ok()) {
      return fail(done.error());
    }
    std::printf("applied %llu\n", static_cast<unsigned long long>(store.value()->applied_index()));
    std::fflush(stdout);
  }
}
