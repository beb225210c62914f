#pragma once
// raft::StateMachine: the application that Raft replicates. It sees every
// committed command exactly once, in log order, on every node.

#include <string>
#include <string_view>

#include "raft/types.h"

namespace raft {

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // Applies the committed command at `index` and returns its result, which
  // the proposer receives. Called from one thread, with strictly increasing
  // indexes. Must be deterministic: every node computes the same state.
  virtual std::string apply(Index index, std::string_view command) = 0;

  // The last index applied. A durable state machine returns what survived a
  // restart; raft::Server replays the log after it.
  virtual Index applied_index() const = 0;
};

}  // namespace raft
