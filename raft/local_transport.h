#pragma once
// In-process transport for tests and demos. Every LocalTransport made by one
// LocalNetwork can reach the others; the network can drop, delay and
// partition messages, so tests of raft::Server see the faults Raft must
// survive without any sockets.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <set>
#include <thread>

#include "raft/random.h"
#include "raft/transport.h"

namespace raft {

class LocalNetwork : public std::enable_shared_from_this<LocalNetwork> {
 public:
  static std::shared_ptr<LocalNetwork> create(std::uint64_t seed = 1);
  ~LocalNetwork();
  LocalNetwork(const LocalNetwork&) = delete;
  LocalNetwork& operator=(const LocalNetwork&) = delete;

  std::shared_ptr<Transport> endpoint();

  // Fault injection. Delays are drawn uniformly from [min, max] per message.
  void set_delay(std::chrono::microseconds min, std::chrono::microseconds max);
  void set_drop_rate(double probability);
  void isolate(NodeId node);
  void cut(NodeId a, NodeId b);
  void heal();

  std::uint64_t delivered() const;

 private:
  friend class LocalTransport;
  struct InFlight {
    std::chrono::steady_clock::time_point due;
    std::uint64_t sequence;
    pb::Message message;
    bool operator>(const InFlight& other) const {
      return due != other.due ? due > other.due : sequence > other.sequence;
    }
  };

  explicit LocalNetwork(std::uint64_t seed);
  void attach(NodeId node, Transport::Receiver receiver);
  void detach(NodeId node);
  void submit(pb::Message message);
  bool blocked(NodeId from, NodeId to) const;
  void deliver_loop();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> in_flight_;
  std::map<NodeId, Transport::Receiver> receivers_;
  std::set<NodeId> isolated_;
  std::set<std::pair<NodeId, NodeId>> cut_links_;
  std::chrono::microseconds min_delay_{0};
  std::chrono::microseconds max_delay_{0};
  double drop_rate_ = 0;
  DeterministicRandom random_;
  std::uint64_t next_sequence_ = 0;
  std::uint64_t delivered_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

class LocalTransport final : public Transport {
 public:
  explicit LocalTransport(std::shared_ptr<LocalNetwork> network) : network_(std::move(network)) {}
  ~LocalTransport() override { stop(); }

  void start(NodeId self, Receiver receiver) override;
  void set_peers(const std::vector<Peer>&) override {}  // everyone is reachable in process
  void send(pb::Message message) override;
  void stop() override;

 private:
  std::shared_ptr<LocalNetwork> network_;
  std::atomic<NodeId> self_{kNoNode};  // kNoNode while not started
};

}  // namespace raft
