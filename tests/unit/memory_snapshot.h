#pragma once
// A snapshot held in memory, for tests: a StateMachineView writes its blocks
// into it and a restore reads them back, as the snapshot file would.

#include <string>
#include <vector>

#include "raft/state_machine.h"

namespace raft::testing {

class MemorySnapshot final : public SnapshotSink, public SnapshotSource {
 public:
  Status write(std::string_view block) override {
    blocks_.emplace_back(block);
    return {};
  }
  Result<bool> next(std::string& block) override {
    if (position_ == blocks_.size()) return false;
    block = blocks_[position_++];
    return true;
  }
  std::size_t blocks() const { return blocks_.size(); }

 private:
  std::vector<std::string> blocks_;
  std::size_t position_ = 0;
};

}  // namespace raft::testing
