#pragma once
// The simulation's clients as a key-value workload, recorded for the
// linearizability checker (tests/checker): every proposal writes a fresh
// value to one of a few keys ("w KEY VALUE"), every read reads one key at a
// ReadIndex read point. Outcomes are what raft::Node told the client --
// the same answers raft::Server's callers get:
// - a write is ok when its entry applied; failed when it was refused
//   before it was proposed or another leader's entry took its index; and
//   unknown otherwise (the node crashed first, was removed, a snapshot
//   covered the entry, or it is still pending at the end);
// - a read is ok once the node has applied up to its read point, and sees
//   the node's state machine then; a refused read failed; one lost to a
//   crash is unknown (and so ignored).

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "raft/node.h"
#include "tests/checker/history.h"

namespace raft::sim {

class ClientHistory {
 public:
  // The command a proposal carries, and the key and value it writes.
  static std::string write_command(const std::string& key, const std::string& value);

  // A write of `key` a client sends to `node`: the operation's handle and
  // the command to propose.
  std::pair<std::size_t, std::string> invoke_write(NodeId node, const std::string& key, std::uint64_t now);
  void write_answered(std::size_t write, const Result<Applied>& answer, std::uint64_t now);

  std::size_t invoke_read(NodeId node, const std::string& key, std::uint64_t now);
  // Served (with the value the node's state machine then held) or refused.
  void read_answered(std::size_t read, bool ok, std::optional<std::string> value, std::uint64_t now);

  // The history; whatever is still pending is unknown.
  raftkv::checker::History finish() const { return operations_; }
  std::size_t size() const { return operations_.size(); }

 private:
  raftkv::checker::Operation& invoke(NodeId node, raftkv::checker::OpKind kind, const std::string& key,
                                     std::uint64_t now);

  std::vector<raftkv::checker::Operation> operations_;
  std::uint64_t values_ = 0;
};

}  // namespace raft::sim
