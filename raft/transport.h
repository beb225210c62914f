#pragma once
// raft::Transport: carries peer messages between nodes. Delivery is best
// effort -- messages may be lost, delayed or reordered, and Raft copes -- but
// a transport should keep each pair's messages in order when it can.

#include <functional>
#include <vector>

#include "raft/peer.h"
#include "raft/types.h"

namespace raft {

class Transport {
 public:
  using Receiver = std::function<void(pb::Message)>;

  virtual ~Transport() = default;

  // Begins delivering messages addressed to `self` to `receiver`, which must
  // not block: it is called from the transport's threads.
  virtual void start(NodeId self, Receiver receiver) = 0;
  // Where to reach each peer (from raft::Discovery).
  virtual void set_peers(const std::vector<Peer>& peers) = 0;
  // Sends without waiting; message.to() names the recipient. Before start()
  // and after stop() messages are dropped.
  virtual void send(pb::Message message) = 0;
  // Stops delivering; when it returns, the receiver is no longer called.
  virtual void stop() = 0;
};

}  // namespace raft
