// Log compaction keeps a node's disk use bounded: one raft::Server on
// RocksDbStorage and a FileSnapshotStore commits 1,000,000 entries of 256
// bytes (256 MB of commands) with the default compaction settings, and the
// data directory never grows past kBound. Sizes are sampled every 10,000
// entries; every fifth sample is printed, so a run shows the curve, not
// just the verdict.
//
// RAFTKV_COMPACTION_ENTRIES overrides the number of entries.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>

#include "raft/file_snapshot_store.h"
#include "raft/local_transport.h"
#include "raft/rocksdb_storage.h"
#include "raft/server.h"
#include "raft/static_discovery.h"
#include "tests/unit/eventually.h"
#include "tests/unit/temporary_directory.h"

namespace raft {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The stated bound for the whole data directory (log, metadata, WAL and
// snapshots): RocksDB's WAL (capped at 64 MiB by RocksDbStorage), the
// live log (at most a snapshot interval plus the margin: ~105,000 entries,
// ~30 MiB) and flushed files awaiting RocksDB's compaction.
constexpr std::uint64_t kBound = 128ull << 20;

std::uint64_t directory_bytes(const std::string& directory) {
  std::uint64_t total = 0;
  std::error_code error;
  for (const auto& entry : fs::recursive_directory_iterator(directory, error)) {
    if (entry.is_regular_file(error)) total += entry.file_size(error);
  }
  return total;
}

// Counts commands and checksums them; its snapshot is those two numbers, so
// what the directory holds is the Raft log's doing.
class ChecksumMachine final : public StateMachine {
 public:
  Result<std::string> apply(Index index, std::string_view command) override {
    for (unsigned char c : command) sum_ = sum_ * 31 + c;
    applied_ = index;
    return std::string();
  }
  Index applied_index() const override { return applied_; }
  std::unique_ptr<StateMachineView> view() override { return std::make_unique<View>(applied_, sum_); }
  Status restore(Index index, SnapshotSource& source) override {
    std::string block;
    Result<bool> read = source.next(block);
    if (!read.ok()) return read.error();
    sum_ = std::stoull(block);
    applied_ = index;
    return {};
  }

 private:
  class View final : public StateMachineView {
   public:
    View(Index index, std::uint64_t sum) : index_(index), sum_(sum) {}
    Index index() const override { return index_; }
    Status write(SnapshotSink& sink) override { return sink.write(std::to_string(sum_)); }

   private:
    Index index_;
    std::uint64_t sum_;
  };
  std::atomic<Index> applied_{0};
  std::uint64_t sum_ = 17;
};

TEST(Compaction, AMillionEntriesKeepTheDataDirectoryUnderItsBound) {
  const char* setting = std::getenv("RAFTKV_COMPACTION_ENTRIES");
  const std::uint64_t total = setting != nullptr ? std::strtoull(setting, nullptr, 10) : 1'000'000;
  constexpr std::uint64_t kSample = 10'000;
  constexpr std::size_t kInFlight = 4096;

  testing::TemporaryDirectory root;
  const std::string data = root.sub("node-1");
  auto storage = RocksDbStorage::open(data + "/raft", StorageIdentity{1, 1});
  ASSERT_TRUE(storage.ok()) << storage.error().to_string();
  auto snapshots = FileSnapshotStore::open(data + "/snapshots");
  ASSERT_TRUE(snapshots.ok()) << snapshots.error().to_string();
  auto network = LocalNetwork::create();
  ServerOptions options;  // the default compaction settings
  options.core.id = 1;
  options.tick_interval = 10ms;
  Server server(options, std::shared_ptr<Storage>(std::move(storage).value()),
                std::shared_ptr<SnapshotStore>(std::move(snapshots).value()), network->endpoint(),
                std::make_shared<StaticDiscovery>(std::vector<Peer>{{1, "local"}}),
                std::make_shared<ChecksumMachine>());
  ASSERT_TRUE(server.start().ok());
  ASSERT_TRUE(testing::eventually([&] { return server.status().role == Role::kLeader; }));

  const std::string payload(256, 'v');
  std::deque<std::future<Result<Applied>>> in_flight;
  std::uint64_t largest = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 1; i <= total; ++i) {
    in_flight.push_back(server.propose(payload));
    if (in_flight.size() >= kInFlight) {
      Result<Applied> applied = in_flight.front().get();
      ASSERT_TRUE(applied.ok()) << applied.error().to_string();
      in_flight.pop_front();
    }
    if (i % kSample == 0) {
      const std::uint64_t bytes = directory_bytes(data);
      largest = std::max(largest, bytes);
      if (i % (5 * kSample) != 0) continue;
      const ServerStatus status = server.status();
      std::printf("%8llu entries: data directory %6.1f MiB; log %llu..%llu, snapshot at %llu\n",
                  static_cast<unsigned long long>(i), static_cast<double>(bytes) / (1 << 20),
                  static_cast<unsigned long long>(status.first_log_index),
                  static_cast<unsigned long long>(status.last_log_index),
                  static_cast<unsigned long long>(status.snapshot_index));
      std::fflush(stdout);
    }
  }
  for (auto& future : in_flight) ASSERT_TRUE(future.get().ok());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "%llu entries of %zu bytes in %.1f s (%.0f entries/s); largest data directory %.1f MiB, bound %.0f "
      "MiB\n",
      static_cast<unsigned long long>(total), payload.size(), seconds, static_cast<double>(total) / seconds,
      static_cast<double>(largest) / (1 << 20), static_cast<double>(kBound) / (1 << 20));
  EXPECT_GT(server.status().snapshot_index, total / 2);
  EXPECT_LT(largest, kBound);
  server.stop();
}

}  // namespace
}  // namespace raft
