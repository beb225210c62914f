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
  // Nodes a committed configuration removed from the cluster. A transport
  // that refuses messages from non-members tells these, when they call,
  // that they were removed; and when a peer tells this node so, it delivers
  // that as a RequestVoteResponse with requester_removed from that peer,
  // which the core believes as it believes a voter's answer (a removed node
  // must learn it somehow: the leader no longer sends it anything).
  virtual void set_removed(const std::vector<NodeId>& /*removed*/) {}
  // Sends without waiting; message.to() names the recipient. Before start()
  // and after stop() messages are dropped.
  virtual void send(pb::Message message) = 0;
  // Stops delivering; when it returns, the receiver is no longer called.
  virtual void stop() = 0;
};

}  // namespace raft
