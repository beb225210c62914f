#pragma once
// raft::Discovery: tells a node who the members of its cluster are and where
// to reach them.

#include <vector>

#include "raft/peer.h"
#include "raft/result.h"

namespace raft {

class Discovery {
 public:
  virtual ~Discovery() = default;
  // Every member, this node included.
  virtual Result<std::vector<Peer>> discover() = 0;
};

}  // namespace raft
