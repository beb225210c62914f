#include "tests/sim/client_history.h"

#include <algorithm>
#include <sstream>

namespace raft::sim {

using raftkv::checker::OpKind;
using raftkv::checker::Outcome;

namespace {

// The value the last write of `key` in `machine` wrote; nullopt if none.
std::optional<std::string> value_of(const std::vector<pb::Entry>& machine, const std::string& key) {
  const std::string prefix = "w " + key + " ";
  for (auto entry = machine.rbegin(); entry != machine.rend(); ++entry) {
    if (entry->data().rfind(prefix, 0) == 0) return entry->data().substr(prefix.size());
  }
  return std::nullopt;
}

}  // namespace

std::string ClientHistory::write_command(const std::string& key, const std::string& value) {
  return "w " + key + " " + value;
}

raftkv::checker::Operation& ClientHistory::invoke(NodeId node, OpKind kind, const std::string& key,
                                                  std::uint64_t now) {
  raftkv::checker::Operation& op = operations_.emplace_back();
  op.id = operations_.size();
  op.client = node;
  op.kind = kind;
  op.key = key;
  op.invoke = static_cast<std::int64_t>(now);
  return op;
}

std::pair<std::size_t, std::string> ClientHistory::invoke_write(NodeId node, const std::string& key,
                                                                std::uint64_t now) {
  raftkv::checker::Operation& op = invoke(node, OpKind::kWrite, key, now);
  op.value = "v" + std::to_string(++values_);
  return {operations_.size() - 1, write_command(key, *op.value)};
}

void ClientHistory::write_accepted(std::size_t write, NodeId node, Index index, Term term) {
  writes_[node].push_back(PendingWrite{write, index, term});
}

void ClientHistory::write_refused(std::size_t write, std::uint64_t now) {
  raftkv::checker::Operation& op = operations_[write];
  op.outcome = Outcome::kFailed;
  op.complete = static_cast<std::int64_t>(now);
}

void ClientHistory::invoke_read(NodeId node, std::uint64_t read_id, const std::string& key,
                                std::uint64_t now) {
  raftkv::checker::Operation& op = operations_.emplace_back();
  op.id = operations_.size();
  op.client = node;
  op.kind = OpKind::kRead;
  op.key = key;
  op.invoke = static_cast<std::int64_t>(now);
  reads_[{node, read_id}] = PendingRead{operations_.size() - 1};
}

void ClientHistory::read_point(NodeId node, std::uint64_t read_id, bool ok, Index index, std::uint64_t now) {
  auto read = reads_.find({node, read_id});
  if (read == reads_.end()) return;
  if (!ok) {
    operations_[read->second.op].outcome = Outcome::kFailed;
    operations_[read->second.op].complete = static_cast<std::int64_t>(now);
    reads_.erase(read);
    return;
  }
  read->second.index = index;
  read->second.has_point = true;
}

void ClientHistory::applied(NodeId node, const std::vector<pb::Entry>& machine, std::uint64_t now) {
  if (machine.empty()) return;
  const Index applied = machine.back().index();
  std::vector<PendingWrite>& writes = writes_[node];
  std::erase_if(writes, [&](const PendingWrite& write) {
    if (write.index > applied) return false;
    raftkv::checker::Operation& op = operations_[write.op];
    // The entry at the proposal's index decides: the proposal itself, or
    // another leader's entry that took its place. (Below the first entry
    // the machine holds, a snapshot covered it: its term is unknown here,
    // so the outcome stays unknown.)
    const Index first = machine.front().index();
    if (write.index >= first) {
      const pb::Entry& entry = machine[write.index - first];
      op.outcome = entry.term() == write.term ? Outcome::kOk : Outcome::kFailed;
      op.complete = static_cast<std::int64_t>(now);
    }
    return true;
  });
  for (auto read = reads_.begin(); read != reads_.end();) {
    if (read->first.first != node || !read->second.has_point || read->second.index > applied) {
      ++read;
      continue;
    }
    raftkv::checker::Operation& op = operations_[read->second.op];
    op.outcome = Outcome::kOk;
    op.observed = value_of(machine, op.key);
    op.complete = static_cast<std::int64_t>(now);
    read = reads_.erase(read);
  }
}

void ClientHistory::crashed(NodeId node) {
  // Their outcomes stay unknown: the entries may still commit.
  writes_.erase(node);
  std::erase_if(reads_, [&](const auto& read) { return read.first.first == node; });
}

raftkv::checker::History ClientHistory::finish() const {
  return operations_;  // pending operations are already kUnknown
}

}  // namespace raft::sim
