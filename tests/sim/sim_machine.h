#pragma once
// The simulation's state machine: a key-value register per key, written by
// "w KEY VALUE" commands, kept in memory (a crash loses it: a restarted node
// restores its latest snapshot and replays its log). It also keeps every
// entry it was handed, with its term, so that the safety checker can
// compare what nodes applied, and what a snapshot holds, entry by entry;
// its snapshots are those entries.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/state_machine.h"
#include "raft/types.h"

namespace raft::sim {

class SimMachine final : public StateMachine {
 public:
  Result<std::string> apply(Index index, std::string_view command) override {
    applied_ = index;
    return std::string(command.substr(0, 2) == "w " ? "ok" : "ignored");
  }
  Index applied_index() const override { return applied_; }
  std::unique_ptr<StateMachineView> view() override;
  Status restore(Index index, SnapshotSource& source) override;

  // Every entry the Applier handed out (commands and configurations), in order.
  void record(const pb::Entry& entry);
  const std::vector<pb::Entry>& entries() const { return entries_; }
  std::optional<std::string> value(const std::string& key) const;

 private:
  Index applied_ = 0;
  std::vector<pb::Entry> entries_;
  std::map<std::string, std::string> values_;
};

}  // namespace raft::sim
