#pragma once
// The Raft safety properties (Figure 3 of the paper), checked by the
// simulation after every step. Each check records a violation rather than
// aborting, so the run can report the seed and what went wrong.

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "raft/core.h"

namespace raft::sim {

class SafetyChecker {
 public:
  // Election Safety: at most one leader can be elected in a given term.
  void on_leader(NodeId node, const Core& core);
  // Log Matching: if two logs contain an entry with the same index and
  // term, then the logs are identical in all entries up through that index.
  // Checked inductively: every (index, term) ever written anywhere must
  // always carry the same payload and follow the same previous term.
  void on_entries_written(const Core& core, const std::vector<pb::Entry>& entries);
  // Log Matching checked directly on two logs: equal (index, term) at some
  // index implies equal entries at every index up to it.
  void check_logs_match(const Core& a, const Core& b);
  // Leader Append-Only: a leader only ever appends entries of its own term.
  void on_leader_write(const Core& core, const std::vector<pb::Entry>& entries);
  // Leader Completeness: an entry committed in term T is in the log of every
  // leader of a term after T. Records what `core` has committed, with the
  // earliest term known to have committed it, and checks leaders against it.
  void on_committed(const Core& core, Index from, Index to);
  void check_leader_has_committed_entries(const Core& core);
  // State Machine Safety: no two servers apply different entries at one index.
  void on_applied(NodeId node, const pb::Entry& entry, Index expected_index);
  // ... and a snapshot's state, the entries 1..index it holds, must be what
  // every node applied there.
  void on_snapshot_restored(NodeId node, Index index, const std::vector<pb::Entry>& entries);
  // Durable term never decreases; a durable vote never changes within a term.
  void on_hard_state_persisted(NodeId node, const pb::HardState& before, const pb::HardState& after);
  // A read served at `read_index` must see every entry committed before the
  // read was requested (linearizability of ReadIndex, dissertation §6.4).
  void on_read(NodeId node, Index read_index, Index committed_when_requested);

  // Membership (dissertation §4.1): a leader is a voter of the
  // configuration it uses, and that configuration is the latest one in its
  // log -- what its MembershipHistory says agrees with the entries.
  void check_membership(const Core& core);

  // A fault the simulation itself found (a driver contract broken).
  void fail_with(std::string what) { fail(std::move(what)); }

  Index highest_committed() const { return committed_.empty() ? 0 : committed_.rbegin()->first; }
  const std::optional<std::string>& violation() const { return violation_; }
  std::size_t committed_count() const { return committed_.size(); }

 private:
  struct EntryIdentity {
    Term previous_term;
    std::string data;
  };
  void fail(std::string what);

  std::map<Term, NodeId> leader_of_term_;
  std::map<std::pair<Index, Term>, EntryIdentity> written_;
  struct CommittedEntry {
    pb::Entry entry;
    Term committed_in;
    bool has_payload;  // entry.data() is the payload (not dropped from memory)
  };
  std::map<Index, CommittedEntry> committed_;
  std::map<Index, pb::Entry> applied_;
  std::optional<std::string> violation_;
};

}  // namespace raft::sim
