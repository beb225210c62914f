// raft-demo: a five-node raft::Server cluster in one process (in-memory
// storage, in-process transport), to watch the library work until the
// raftkvd daemon exists: election, replication, losing the leader,
// re-election, catch-up, identical replicas.
//
//   raft-demo [--nodes N] [--commands N]

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "raft/in_memory_snapshot_store.h"
#include "raft/in_memory_storage.h"
#include "raft/local_transport.h"
#include "raft/server.h"
#include "raft/static_discovery.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Folds every command into a hash: two replicas with equal hashes and counts
// applied the same commands in the same order.
class HashingStateMachine final : public raft::StateMachine {
 public:
  raft::Result<std::string> apply(raft::Index index, std::string_view command) override {
    std::lock_guard lock(mutex_);
    for (unsigned char c : command) hash_ = (hash_ ^ c) * 0x100000001b3ULL;
    ++count_;
    applied_ = index;
    return std::string();
  }
  raft::Index applied_index() const override {
    std::lock_guard lock(mutex_);
    return applied_;
  }
  std::pair<std::uint64_t, std::uint64_t> fingerprint() const {
    std::lock_guard lock(mutex_);
    return {count_, hash_};
  }
  int restores() const {
    std::lock_guard lock(mutex_);
    return restores_;
  }
  // A snapshot is the fingerprint: two 8-byte numbers in one block.
  std::unique_ptr<raft::StateMachineView> view() override {
    std::lock_guard lock(mutex_);
    std::string block(16, '\0');
    std::memcpy(block.data(), &count_, 8);
    std::memcpy(block.data() + 8, &hash_, 8);
    return std::make_unique<View>(applied_, std::move(block));
  }
  raft::Status restore(raft::Index index, raft::SnapshotSource& source) override {
    std::string block;
    raft::Result<bool> read = source.next(block);
    if (!read.ok()) return read.error();
    if (!read.value() || block.size() != 16) {
      return raft::Error{raft::ErrorCode::kStorage, "demo snapshot is not two numbers"};
    }
    std::lock_guard lock(mutex_);
    std::memcpy(&count_, block.data(), 8);
    std::memcpy(&hash_, block.data() + 8, 8);
    applied_ = index;
    ++restores_;
    return {};
  }

 private:
  class View final : public raft::StateMachineView {
   public:
    View(raft::Index index, std::string block) : index_(index), block_(std::move(block)) {}
    raft::Index index() const override { return index_; }
    raft::Status write(raft::SnapshotSink& sink) override { return sink.write(block_); }

   private:
    raft::Index index_;
    std::string block_;
  };

  mutable std::mutex mutex_;
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
  std::uint64_t count_ = 0;
  raft::Index applied_ = 0;
  int restores_ = 0;
};

class Demo {
 public:
  Demo(std::size_t nodes) : network_(raft::LocalNetwork::create()), start_(Clock::now()) {
    std::vector<raft::Peer> peers;
    for (raft::NodeId id = 1; id <= nodes; ++id) peers.push_back({id, "in-process"});
    discovery_ = std::make_shared<raft::StaticDiscovery>(peers);
    for (raft::NodeId id = 1; id <= nodes; ++id) {
      storages_[id] = std::make_shared<raft::InMemoryStorage>();
      snapshot_stores_[id] = std::make_shared<raft::InMemorySnapshotStore>();
      machines_[id] = std::make_shared<HashingStateMachine>();
      start(id);
    }
  }

  void start(raft::NodeId id) {
    raft::ServerOptions options;
    options.core.id = id;
    options.tick_interval = 10ms;
    options.core.election_ticks = 15;
    // Snapshots every 500 entries, keeping 100: a node that misses more
    // than that catches up by InstallSnapshot rather than the log.
    options.snapshot_entries = 500;
    options.compaction_margin = 100;
    servers_[id] = std::make_unique<raft::Server>(options, storages_[id], snapshot_stores_[id],
                                                  network_->endpoint(), discovery_, machines_[id]);
    if (const raft::Status started = servers_[id]->start(); !started.ok()) {
      std::fprintf(stderr, "raft-demo: node %llu failed to start: %s\n", static_cast<unsigned long long>(id),
                   started.error().to_string().c_str());
      std::exit(1);
    }
  }
  void stop(raft::NodeId id) { servers_.erase(id); }
  int restores(raft::NodeId id) const { return machines_.at(id)->restores(); }

  void say(const std::string& text) const {
    std::printf("[%6.2f s] %s\n", std::chrono::duration<double>(Clock::now() - start_).count(), text.c_str());
    std::fflush(stdout);
  }

  bool wait(const std::function<bool()>& condition, std::chrono::seconds timeout = 30s) const {
    const auto deadline = Clock::now() + timeout;
    while (!condition()) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  raft::NodeId leader() const {
    for (const auto& [id, server] : servers_) {
      if (server->status().role == raft::Role::kLeader) return id;
    }
    return raft::kNoNode;
  }

  raft::NodeId elect() {
    raft::NodeId found = raft::kNoNode;
    if (!wait([&] { return (found = leader()) != raft::kNoNode; })) fail("no leader elected within 30 s");
    say("node " + std::to_string(found) + " is leader for term " +
        std::to_string(servers_.at(found)->status().term));
    return found;
  }

  void replicate(raft::NodeId through, int count, const std::string& prefix) {
    const auto begin = Clock::now();
    std::vector<std::future<raft::Result<raft::Applied>>> futures;
    for (int i = 0; i < count; ++i)
      futures.push_back(servers_.at(through)->propose(prefix + std::to_string(i)));
    raft::Index last = 0;
    for (auto& future : futures) {
      raft::Result<raft::Applied> result = future.get();
      if (!result.ok()) fail("proposal failed: " + result.error().to_string());
      last = result.value().index;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    char line[160];
    std::snprintf(line, sizeof line,
                  "%d commands committed through node %llu in %.3f s (%.0f/s), last index %llu", count,
                  static_cast<unsigned long long>(through), seconds, count / seconds,
                  static_cast<unsigned long long>(last));
    say(line);
  }

  void print_status() const {
    std::printf("\n  %-5s %-10s %-5s %-8s %-8s %-12s %-9s %s\n", "NODE", "ROLE", "TERM", "COMMIT", "APPLIED",
                "LOG", "SNAPSHOT", "STATE HASH");
    for (const auto& [id, machine] : machines_) {
      const auto [count, hash] = machine->fingerprint();
      auto server = servers_.find(id);
      if (server == servers_.end()) {
        std::printf("  %-5llu %-10s\n", static_cast<unsigned long long>(id), "stopped");
        continue;
      }
      const raft::ServerStatus status = server->second->status();
      const std::string log =
          status.first_log_index > status.last_log_index
              ? "(empty)"
              : std::to_string(status.first_log_index) + ".." + std::to_string(status.last_log_index);
      std::printf("  %-5llu %-10s %-5llu %-8llu %-8llu %-12s %-9llu %016llx (%llu commands)\n",
                  static_cast<unsigned long long>(id), std::string(raft::to_string(status.role)).c_str(),
                  static_cast<unsigned long long>(status.term),
                  static_cast<unsigned long long>(status.commit_index),
                  static_cast<unsigned long long>(status.applied_index), log.c_str(),
                  static_cast<unsigned long long>(status.snapshot_index),
                  static_cast<unsigned long long>(hash), static_cast<unsigned long long>(count));
    }
    std::printf("\n");
  }

  bool replicas_identical(std::uint64_t expected_count) const {
    const auto reference = machines_.begin()->second->fingerprint();
    for (const auto& [id, machine] : machines_) {
      if (machine->fingerprint() != reference) return false;
    }
    return reference.first == expected_count;
  }

  [[noreturn]] void fail(const std::string& why) const {
    say("FAILED: " + why);
    print_status();
    std::exit(1);
  }

 private:
  std::shared_ptr<raft::LocalNetwork> network_;
  std::shared_ptr<raft::StaticDiscovery> discovery_;
  std::map<raft::NodeId, std::shared_ptr<raft::InMemoryStorage>> storages_;
  std::map<raft::NodeId, std::shared_ptr<raft::InMemorySnapshotStore>> snapshot_stores_;
  std::map<raft::NodeId, std::shared_ptr<HashingStateMachine>> machines_;
  std::map<raft::NodeId, std::unique_ptr<raft::Server>> servers_;
  Clock::time_point start_;
};

int usage() {
  std::fprintf(stderr, "usage: raft-demo [--nodes 3..9] [--commands N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t nodes = 5;
  int commands = 2000;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    char* end = nullptr;
    if (std::strcmp(argv[i], "--nodes") == 0 && has_value) {
      nodes = std::strtoul(argv[++i], &end, 10);
      if (*end != '\0' || nodes < 3 || nodes > 9) return usage();
    } else if (std::strcmp(argv[i], "--commands") == 0 && has_value) {
      commands = static_cast<int>(std::strtol(argv[++i], &end, 10));
      if (*end != '\0' || commands < 1) return usage();
    } else {
      return usage();
    }
  }

  // The demo narrates itself; the library's log would repeat it.
  spdlog::set_level(spdlog::level::warn);
  std::printf(
      "raft-demo: %zu raft::Server nodes in one process (in-memory storage, in-process transport)\n\n",
      nodes);
  Demo demo(nodes);
  const raft::NodeId first = demo.elect();
  demo.replicate(first, commands, "first-");
  if (!demo.wait([&] { return demo.replicas_identical(static_cast<std::uint64_t>(commands)); })) {
    demo.fail("replicas did not converge");
  }
  demo.say("every replica applied them");
  demo.print_status();

  demo.say("stopping the leader, node " + std::to_string(first));
  demo.stop(first);
  const raft::NodeId second = demo.elect();
  demo.replicate(second, commands, "second-");

  demo.say("restarting node " + std::to_string(first) + " from its storage");
  demo.start(first);
  const std::uint64_t total = 2 * static_cast<std::uint64_t>(commands);
  if (!demo.wait([&] { return demo.replicas_identical(total); })) demo.fail("replicas did not converge");
  demo.say("all " + std::to_string(nodes) + " state machines hold the same " + std::to_string(total) +
           " commands");
  const int restores = demo.restores(first);
  demo.say("node " + std::to_string(first) +
           (restores > 0 ? " caught up from the leader's snapshot (InstallSnapshot)"
                         : " caught up from the leader's log") +
           "; every node compacts its log every 500 entries");
  demo.print_status();
  return 0;
}
