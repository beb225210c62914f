#pragma once

#include <string>

#include "raft/types.h"

namespace raft {

// A cluster member as discovery reports it: its id and where to reach it.
struct Peer {
  NodeId id = kNoNode;
  std::string address;  // "host:port"; opaque to the in-process transport
  bool operator==(const Peer&) const = default;
};

}  // namespace raft
