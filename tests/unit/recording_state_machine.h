#pragma once
// A state machine for tests of raft::Server: it records every command it
// applies (so replicas can be compared), answers "applied:<command>", and
// snapshots and restores the whole record, counting restores.

#include <mutex>
#include <string>
#include <vector>

#include "raft/state_machine.h"

namespace raft::testing {

class RecordingStateMachine final : public StateMachine {
 public:
  Result<std::string> apply(Index index, std::string_view command) override {
    std::lock_guard lock(mutex_);
    commands_.emplace_back(command);
    applied_ = index;
    return "applied:" + std::string(command);
  }
  Index applied_index() const override {
    std::lock_guard lock(mutex_);
    return applied_;
  }
  std::vector<std::string> commands() const {
    std::lock_guard lock(mutex_);
    return commands_;
  }
  // The snapshot is every command applied, one block each.
  std::unique_ptr<StateMachineView> view() override {
    std::lock_guard lock(mutex_);
    return std::make_unique<View>(applied_, commands_);
  }
  Status restore(Index index, SnapshotSource& source) override {
    std::vector<std::string> commands;
    std::string block;
    while (true) {
      Result<bool> more = source.next(block);
      if (!more.ok()) return more.error();
      if (!more.value()) break;
      commands.push_back(block);
    }
    std::lock_guard lock(mutex_);
    commands_ = std::move(commands);
    applied_ = index;
    ++restores_;
    return {};
  }
  int restores() const {
    std::lock_guard lock(mutex_);
    return restores_;
  }

 private:
  class View final : public StateMachineView {
   public:
    View(Index index, std::vector<std::string> commands) : index_(index), commands_(std::move(commands)) {}
    Index index() const override { return index_; }
    Status write(SnapshotSink& sink) override {
      for (const std::string& command : commands_) {
        if (Status written = sink.write(command); !written.ok()) return written;
      }
      return {};
    }

   private:
    Index index_;
    std::vector<std::string> commands_;
  };

  mutable std::mutex mutex_;
  std::vector<std::string> commands_;
  Index applied_ = 0;
  int restores_ = 0;
};

}  // namespace raft::testing
