#pragma once
// The simulation's clients as a key-value workload, recorded for the
// linearizability checker (tests/checker): every proposal writes a fresh
// value to one of a few keys ("w KEY VALUE"), every read reads one key at a
// ReadIndex read point. Outcomes are what a client would know:
// - a write refused by a non-leader failed; one whose index the proposing
//   node applies is ok if the applied entry is the proposal (same term),
//   failed if another leader's entry took the index; one whose node crashed
//   first, or that is still pending at the end, is unknown;
// - a read is ok once the node has applied up to its read point, and sees
//   the node's state machine then; a refused read failed; one lost to a
//   crash is unknown (and so ignored).

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "raft/types.h"
#include "tests/checker/history.h"

namespace raft::sim {

class ClientHistory {
 public:
  // The command a proposal carries, and the key and value it writes.
  static std::string write_command(const std::string& key, const std::string& value);

  // A write of `key` a client sends to `node`: the operation's handle and
  // the command to propose.
  std::pair<std::size_t, std::string> invoke_write(NodeId node, const std::string& key, std::uint64_t now);
  void write_accepted(std::size_t write, NodeId node, Index index, Term term);
  void write_refused(std::size_t write, std::uint64_t now);

  void invoke_read(NodeId node, std::uint64_t read_id, const std::string& key, std::uint64_t now);
  // The read point arrived (ok) or the read was refused.
  void read_point(NodeId node, std::uint64_t read_id, bool ok, Index index, std::uint64_t now);

  // `node` applied entries through `machine.back()`: completes its writes
  // at those indexes and the reads whose point it has reached.
  void applied(NodeId node, const std::vector<pb::Entry>& machine, std::uint64_t now);
  // Everything in flight at `node` is lost with it: unknown.
  void crashed(NodeId node);

  // The history; whatever is still pending is unknown.
  raftkv::checker::History finish() const;
  std::size_t size() const { return operations_.size(); }

 private:
  struct PendingWrite {
    std::size_t op;
    Index index = 0;
    Term term = 0;
  };
  struct PendingRead {
    std::size_t op;
    Index index = 0;
    bool has_point = false;
  };

  raftkv::checker::Operation& invoke(NodeId node, raftkv::checker::OpKind kind, const std::string& key,
                                     std::uint64_t now);

  std::vector<raftkv::checker::Operation> operations_;
  std::uint64_t values_ = 0;
  std::map<NodeId, std::vector<PendingWrite>> writes_;
  std::map<std::pair<NodeId, std::uint64_t>, PendingRead> reads_;
};

}  // namespace raft::sim
