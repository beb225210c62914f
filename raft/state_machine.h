#pragma once
// raft::StateMachine: the application that Raft replicates. It sees every
// committed command exactly once, in log order, on every node -- or, when
// it fell too far behind, a snapshot of the state those commands produced.

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "raft/result.h"
#include "raft/types.h"

namespace raft {

// Where a state machine writes a snapshot: blocks of bytes, in order. Keep
// blocks to a few MiB at most; the snapshot file frames and checksums each.
class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  virtual Status write(std::string_view block) = 0;
};

// Where a state machine reads a snapshot back: the same blocks, in order,
// each already checked against its checksum.
class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  // The next block, or false at the end.
  virtual Result<bool> next(std::string& block) = 0;
};

// A frozen view of the state machine as of one applied index. Taking it is
// cheap (it is taken on the apply thread); writing it out happens on another
// thread while the state machine keeps applying.
class StateMachineView {
 public:
  virtual ~StateMachineView() = default;
  virtual Index index() const = 0;
  virtual Status write(SnapshotSink& sink) = 0;
};

// A committed command, for StateMachine::apply_all.
struct CommittedCommand {
  Index index;
  std::string_view command;
};

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // Applies the committed command at `index` and returns its result, which
  // the proposer receives. Called from one thread, with strictly increasing
  // indexes. Must be deterministic: every node computes the same state.
  // A durable state machine stores `index` as its applied index atomically
  // with the command's effects, so that a crash neither skips nor repeats it.
  // An error means the state machine cannot go on (its disk failed): the
  // node stops. A command that is merely invalid is answered in the result.
  virtual Result<std::string> apply(Index index, std::string_view command) = 0;

  // Applies several committed commands, in order (increasing indexes), and
  // returns their results in the same order. The same contract as apply(),
  // for all of them: a durable state machine may write them together --
  // one disk write for many commands, which is why this exists -- as long
  // as after a crash it holds the state after exactly applied_index()
  // commands. This default applies them one at a time.
  virtual Result<std::vector<std::string>> apply_all(std::span<const CommittedCommand> commands) {
    std::vector<std::string> results;
    results.reserve(commands.size());
    for (const CommittedCommand& committed : commands) {
      Result<std::string> result = apply(committed.index, committed.command);
      if (!result.ok()) return result.error();
      results.push_back(std::move(result).value());
    }
    return results;
  }

  // The last index applied. A durable state machine returns what survived a
  // restart; raft::Server replays the log after it.
  virtual Index applied_index() const = 0;

  // A view of the current state, at applied_index(), for a snapshot (§7).
  virtual std::unique_ptr<StateMachineView> view() = 0;

  // Replaces the whole state with a snapshot of the state at `index`
  // (written by some node's StateMachineView), after which applied_index()
  // is `index`. Atomic and durable as apply() is: after a crash the state
  // machine holds either its old state or the snapshot's, never a mixture.
  virtual Status restore(Index index, SnapshotSource& source) = 0;
};

}  // namespace raft
