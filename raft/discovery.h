#pragma once
// raft::Discovery: tells a node who the members of its cluster are and where
// to reach them -- and, for discovery that can change its mind (DNS), when
// their addresses change.

#include <functional>
#include <utility>
#include <vector>

#include "raft/peer.h"
#include "raft/result.h"

namespace raft {

// Ends a Discovery::watch when reset or destroyed; once that returns, the
// listener is not running and is never called again.
class DiscoveryWatch {
 public:
  DiscoveryWatch() = default;
  explicit DiscoveryWatch(std::function<void()> end) : end_(std::move(end)) {}
  DiscoveryWatch(DiscoveryWatch&& other) noexcept : end_(std::exchange(other.end_, nullptr)) {}
  DiscoveryWatch& operator=(DiscoveryWatch&& other) noexcept {
    if (this != &other) {
      reset();
      end_ = std::exchange(other.end_, nullptr);
    }
    return *this;
  }
  ~DiscoveryWatch() { reset(); }
  void reset() {
    if (auto end = std::exchange(end_, nullptr)) end();
  }

 private:
  std::function<void()> end_;
};

class Discovery {
 public:
  using Listener = std::function<void(const std::vector<Peer>& members)>;

  virtual ~Discovery() = default;
  // Every member, this node included. A member whose address is not known
  // yet has an empty address.
  virtual Result<std::vector<Peer>> discover() = 0;
  // Calls `listener` with every member at once, then (from a thread of the
  // discovery's) each time an address changes, until the returned watch
  // ends. Discovery that never changes (a static list) need not call it.
  virtual DiscoveryWatch watch(Listener /*listener*/) { return {}; }
  // A hint that `member` did not answer at its address: look again soon.
  virtual void unreachable(NodeId /*member*/) {}
};

}  // namespace raft
