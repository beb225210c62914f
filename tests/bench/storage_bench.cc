// Storage benchmarks: what a synced append costs in RocksDbStorage, beside
// what the disk itself takes for a write + fdatasync, measured in one run so
// the ratio holds even on a noisy machine.
//
//   build/tests/bench/storage_bench [--benchmark_filter=...]
//
// Data goes to a fresh directory under $RAFTKV_BENCH_DIR (default: the
// current directory), so run it on the disk you care about.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "raft/rocksdb_storage.h"

namespace {

namespace fs = std::filesystem;

class BenchDirectory {
 public:
  BenchDirectory() {
    const char* base = std::getenv("RAFTKV_BENCH_DIR");
    std::random_device random;
    path_ = fs::path(base != nullptr ? base : ".") / ("raftkv-bench-" + std::to_string(random()));
    fs::create_directories(path_);
  }
  ~BenchDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

constexpr std::size_t kEntryBytes = 256;

// The floor: append `batch` 256-byte records with one write() and one
// fdatasync(), as a log file would.
void RawWriteFdatasync(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  BenchDirectory directory;
  const int fd = ::open(directory.sub("log").c_str(), O_CREAT | O_WRONLY | O_APPEND, 0644);
  if (fd < 0) {
    state.SkipWithError("cannot create the file");
    return;
  }
  const std::string buffer(batch * kEntryBytes, 'x');
  for (auto _ : state) {
    if (::write(fd, buffer.data(), buffer.size()) != static_cast<ssize_t>(buffer.size()) ||
        ::fdatasync(fd) != 0) {
      state.SkipWithError("write or fdatasync failed");
      break;
    }
  }
  ::close(fd);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * batch * kEntryBytes));
}
BENCHMARK(RawWriteFdatasync)->Arg(1)->Arg(64)->Unit(benchmark::kMicrosecond)->UseRealTime();

// RocksDbStorage::save of `batch` 256-byte entries (plus the hard state, as
// raft::Server writes it), synced or not.
void RocksDbAppend(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  const bool sync = state.range(1) != 0;
  BenchDirectory directory;
  auto opened = raft::RocksDbStorage::open(directory.sub("data"), raft::StorageIdentity{1, 1});
  if (!opened.ok() || !opened.value()->load().ok()) {
    state.SkipWithError("cannot open the storage");
    return;
  }
  raft::RocksDbStorage& storage = *opened.value();
  raft::pb::HardState hard_state;
  hard_state.set_term(1);
  std::vector<raft::pb::Entry> entries(batch);
  raft::Index next = 1;
  for (auto _ : state) {
    for (raft::pb::Entry& entry : entries) {
      entry.set_index(next++);
      entry.set_term(1);
      entry.set_data(std::string(kEntryBytes, 'x'));
    }
    hard_state.set_commit(next - 1);
    if (!storage.save(&hard_state, entries, sync).ok()) {
      state.SkipWithError("save failed");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * batch * kEntryBytes));
}
BENCHMARK(RocksDbAppend)
    ->ArgNames({"batch", "sync"})
    ->Args({1, 1})
    ->Args({64, 1})
    ->Args({1, 0})
    ->Args({64, 0})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
