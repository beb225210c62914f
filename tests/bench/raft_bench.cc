// Benchmarks of the Raft library, the baseline for later performance work.
//
//   build/tests/bench/raft_bench                      all of them
//   build/tests/bench/raft_bench --benchmark_filter=Core
//
// CoreCommit: five cores exchanging messages in memory, no threads or I/O:
// what the algorithm itself costs per committed entry, and how many peer
// messages it needs, as the number of proposals per round (batch) grows.
// ServerPropose: five raft::Servers with real threads over LocalTransport and
// InMemoryStorage, with a fixed number of proposals in flight.

#include <benchmark/benchmark.h>

#include <deque>
#include <future>
#include <map>
#include <memory>

#include "raft/core.h"
#include "raft/in_memory_snapshot_store.h"
#include "raft/in_memory_storage.h"
#include "raft/local_transport.h"
#include "raft/server.h"
#include "raft/static_discovery.h"

namespace {

using namespace std::chrono_literals;

// Delivers messages between cores until quiet; counts messages and commits.
class CoreCluster {
 public:
  explicit CoreCluster(std::size_t size) {
    std::vector<raft::NodeId> voters;
    for (raft::NodeId id = 1; id <= size; ++id) voters.push_back(id);
    for (raft::NodeId id : voters) {
      raft::CoreConfig config;
      config.id = id;
      config.voters = voters;
      config.random_seed = id;
      cores_[id] = std::make_unique<raft::Core>(config);
    }
    cores_[1]->campaign();
    settle();
  }

  raft::Core& leader() { return *cores_[1]; }

  void settle() {
    std::deque<raft::pb::Message> in_flight;
    while (true) {
      for (auto& [id, core] : cores_) {
        while (core->has_ready()) {
          raft::Ready ready = core->ready();
          applied_ += ready.committed_entries.size();
          for (auto& message : ready.messages) in_flight.push_back(std::move(message));
          for (auto& message : ready.messages_after_persist) in_flight.push_back(std::move(message));
          core->advance(ready);
        }
      }
      if (in_flight.empty()) return;
      while (!in_flight.empty()) {
        ++messages_;
        cores_[in_flight.front().to()]->step(in_flight.front());
        in_flight.pop_front();
      }
    }
  }

  std::uint64_t messages() const { return messages_; }
  std::uint64_t applied() const { return applied_; }

 private:
  std::map<raft::NodeId, std::unique_ptr<raft::Core>> cores_;
  std::uint64_t messages_ = 0;
  std::uint64_t applied_ = 0;
};

void CoreCommit(benchmark::State& state) {
  const auto batch = static_cast<int>(state.range(0));
  CoreCluster cluster(5);
  const std::string payload(256, 'x');
  const std::uint64_t messages_before = cluster.messages();
  std::uint64_t committed = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) {
      if (!cluster.leader().propose(payload).ok()) state.SkipWithError("leader refused a proposal");
    }
    cluster.settle();
    committed += static_cast<std::uint64_t>(batch);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(committed));
  state.counters["msgs_per_entry"] =
      static_cast<double>(cluster.messages() - messages_before) / static_cast<double>(committed);
}
BENCHMARK(CoreCommit)->Arg(1)->Arg(16)->Arg(256);

class CountingStateMachine final : public raft::StateMachine {
 public:
  raft::Result<std::string> apply(raft::Index index, std::string_view) override {
    applied_ = index;
    return std::string();
  }
  raft::Index applied_index() const override { return applied_; }
  // Nothing to snapshot but the index: the benchmark measures replication.
  std::unique_ptr<raft::StateMachineView> view() override { return std::make_unique<View>(applied_); }
  raft::Status restore(raft::Index index, raft::SnapshotSource&) override {
    applied_ = index;
    return {};
  }

 private:
  class View final : public raft::StateMachineView {
   public:
    explicit View(raft::Index index) : index_(index) {}
    raft::Index index() const override { return index_; }
    raft::Status write(raft::SnapshotSink&) override { return {}; }

   private:
    raft::Index index_;
  };
  std::atomic<raft::Index> applied_{0};
};

void ServerPropose(benchmark::State& state) {
  const auto in_flight = static_cast<std::size_t>(state.range(0));
  auto network = raft::LocalNetwork::create();
  std::vector<raft::Peer> peers;
  for (raft::NodeId id = 1; id <= 5; ++id) peers.push_back({id, "local"});
  auto discovery = std::make_shared<raft::StaticDiscovery>(peers);
  std::map<raft::NodeId, std::unique_ptr<raft::Server>> servers;
  for (raft::NodeId id = 1; id <= 5; ++id) {
    raft::ServerOptions options;
    options.core.id = id;
    options.tick_interval = 10ms;
    options.core.random_seed = id;
    servers[id] = std::make_unique<raft::Server>(
        options, std::make_shared<raft::InMemoryStorage>(), std::make_shared<raft::InMemorySnapshotStore>(),
        network->endpoint(), discovery, std::make_shared<CountingStateMachine>());
    if (!servers[id]->start().ok()) state.SkipWithError("server failed to start");
  }
  raft::Server* leader = nullptr;
  for (int attempt = 0; attempt < 1000 && leader == nullptr; ++attempt) {
    for (auto& [id, server] : servers) {
      if (server->status().role == raft::Role::kLeader) leader = server.get();
    }
    std::this_thread::sleep_for(5ms);
  }
  if (leader == nullptr) {
    state.SkipWithError("no leader elected");
    return;
  }
  const std::string payload(256, 'x');
  std::deque<std::future<raft::Result<raft::Applied>>> pending;
  std::uint64_t committed = 0;
  for (auto _ : state) {
    // Closed loop: keep `in_flight` proposals outstanding; one iteration is
    // one proposal completing.
    while (pending.size() < in_flight) pending.push_back(leader->propose(payload));
    if (!pending.front().get().ok()) state.SkipWithError("proposal failed");
    pending.pop_front();
    ++committed;
  }
  for (auto& future : pending) future.wait();
  state.SetItemsProcessed(static_cast<std::int64_t>(committed));
}
BENCHMARK(ServerPropose)->Arg(1)->Arg(64)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
