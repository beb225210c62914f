#include "tests/sim/sim_machine.h"

namespace raft::sim {

namespace {

class EntriesView final : public StateMachineView {
 public:
  EntriesView(Index index, std::vector<pb::Entry> entries) : index_(index), entries_(std::move(entries)) {}
  Index index() const override { return index_; }
  Status write(SnapshotSink& sink) override {
    for (const pb::Entry& entry : entries_) {
      if (Status written = sink.write(entry.SerializeAsString()); !written.ok()) return written;
    }
    return {};
  }

 private:
  Index index_;
  std::vector<pb::Entry> entries_;
};

}  // namespace

std::unique_ptr<StateMachineView> SimMachine::view() {
  // As of the last command: configuration entries after it are not in it.
  std::vector<pb::Entry> entries;
  for (const pb::Entry& entry : entries_) {
    if (entry.index() <= applied_) entries.push_back(entry);
  }
  return std::make_unique<EntriesView>(applied_, std::move(entries));
}

Status SimMachine::restore(Index index, SnapshotSource& source) {
  std::vector<pb::Entry> entries;
  std::string block;
  while (true) {
    Result<bool> more = source.next(block);
    if (!more.ok()) return more.error();
    if (!more.value()) break;
    entries.emplace_back().ParseFromString(block);
  }
  entries_.clear();
  values_.clear();
  for (const pb::Entry& entry : entries) record(entry);
  applied_ = index;
  return {};
}

void SimMachine::record(const pb::Entry& entry) {
  entries_.push_back(entry);
  const std::string& command = entry.data();
  if (entry.type() != pb::ENTRY_COMMAND || command.rfind("w ", 0) != 0) return;
  const std::size_t space = command.find(' ', 2);
  if (space == std::string::npos) return;
  values_[command.substr(2, space - 2)] = command.substr(space + 1);
}

std::optional<std::string> SimMachine::value(const std::string& key) const {
  auto found = values_.find(key);
  if (found == values_.end()) return std::nullopt;
  return found->second;
}

}  // namespace raft::sim
