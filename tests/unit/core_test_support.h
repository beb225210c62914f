#pragma once
// Helpers for tests that drive raft::Core by hand: building messages,
// draining a core's outputs, and a small synchronous network of cores.

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "raft/core.h"

namespace raft::testing {

CoreConfig test_config(NodeId id, std::vector<NodeId> voters);

pb::Entry entry(Index index, Term term, std::string data = "");
std::vector<pb::Entry> entries_with_terms(const std::vector<Term>& terms);  // index 1, 2, ...

pb::Message request_vote(NodeId from, NodeId to, Term term, Index last_index, Term last_term,
                         bool pre_vote = false);
pb::Message vote_response(NodeId from, NodeId to, Term term, bool granted, bool pre_vote = false);
pb::Message append_entries(NodeId from, NodeId to, Term term, Index prev_index, Term prev_term,
                           const std::vector<pb::Entry>& entries, Index leader_commit,
                           std::uint64_t read_round = 0);
pb::Message append_response(NodeId from, NodeId to, Term term, Index match_index,
                            std::uint64_t read_round = 0);
pb::Message append_rejection(NodeId from, NodeId to, Term term, Index rejected_index, Index conflict_index,
                             Term conflict_term);
pb::Message timeout_now(NodeId from, NodeId to, Term term);
pb::Message read_index_response(NodeId from, NodeId to, Term term, std::uint64_t request_id, Index read_index,
                                bool success);
pb::Message install_snapshot_response(NodeId from, NodeId to, Term term, Index snapshot_index,
                                      std::uint64_t next_offset, bool done = false);

// A core elected leader by votes from all of config.voters, with its outputs
// drained: its no-op is sent but not yet acknowledged.
std::unique_ptr<Core> elected_leader(CoreConfig config, RestoredState restored = {});

// Everything one ready() produced, with the core advanced past it.
struct Drained {
  Ready ready;
  std::vector<pb::Message> all_messages() const;
};
Drained drain(Core& core);
// Messages from draining the core, in order: messages, then after persist.
std::vector<pb::Message> drain_messages(Core& core);

// Terms of the core's log entries, index 1 first.
std::vector<Term> log_terms(const Core& core);

// Cores wired together by a synchronous network that delivers every message
// until none is left. Links can be cut to model partitions.
class CoreNetwork {
 public:
  explicit CoreNetwork(std::size_t size, std::function<void(CoreConfig&)> tweak = {});

  Core& node(NodeId id) { return *cores_.at(id); }
  void replace(NodeId id, std::unique_ptr<Core> core) { cores_[id] = std::move(core); }
  std::vector<NodeId> ids() const;

  // Delivers messages (and advances cores) until the network is quiet.
  void settle();
  void elect(NodeId id) {
    node(id).campaign();
    settle();
  }
  void tick_all(int ticks);
  void isolate(NodeId id);
  void cut(NodeId a, NodeId b);
  void heal() { cut_links_.clear(); }

  // Entries each node handed out for applying, in order.
  const std::vector<pb::Entry>& applied(NodeId id) { return applied_[id]; }
  const std::vector<ReadState>& read_states(NodeId id) { return read_states_[id]; }
  std::size_t delivered() const { return delivered_; }

 private:
  bool linked(NodeId a, NodeId b) const;

  std::map<NodeId, std::unique_ptr<Core>> cores_;
  std::set<std::pair<NodeId, NodeId>> cut_links_;
  std::map<NodeId, std::vector<pb::Entry>> applied_;
  std::map<NodeId, std::vector<ReadState>> read_states_;
  std::size_t delivered_ = 0;
};

}  // namespace raft::testing
