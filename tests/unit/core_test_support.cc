#include "tests/unit/core_test_support.h"

#include <deque>
#include <stdexcept>

namespace raft::testing {

CoreConfig test_config(NodeId id, std::vector<NodeId> voters) {
  CoreConfig config;
  config.id = id;
  config.voters = std::move(voters);
  config.election_ticks = 10;
  config.heartbeat_ticks = 1;
  config.random_seed = 42;
  // The paper's Figure 2 has neither extension; tests that need them say so.
  config.pre_vote = false;
  config.check_quorum = false;
  return config;
}

pb::Entry entry(Index index, Term term, std::string data) {
  pb::Entry result;
  result.set_index(index);
  result.set_term(term);
  result.set_data(std::move(data));
  return result;
}

std::vector<pb::Entry> entries_with_terms(const std::vector<Term>& terms) {
  std::vector<pb::Entry> result;
  for (std::size_t i = 0; i < terms.size(); ++i) result.push_back(entry(i + 1, terms[i]));
  return result;
}

static pb::Message envelope(NodeId from, NodeId to, Term term) {
  pb::Message message;
  message.set_from(from);
  message.set_to(to);
  message.set_term(term);
  return message;
}

pb::Message request_vote(NodeId from, NodeId to, Term term, Index last_index, Term last_term, bool pre_vote) {
  pb::Message message = envelope(from, to, term);
  auto* request = message.mutable_request_vote();
  request->set_last_log_index(last_index);
  request->set_last_log_term(last_term);
  request->set_pre_vote(pre_vote);
  return message;
}

pb::Message vote_response(NodeId from, NodeId to, Term term, bool granted, bool pre_vote) {
  pb::Message message = envelope(from, to, term);
  message.mutable_request_vote_response()->set_vote_granted(granted);
  message.mutable_request_vote_response()->set_pre_vote(pre_vote);
  return message;
}

pb::Message append_entries(NodeId from, NodeId to, Term term, Index prev_index, Term prev_term,
                           const std::vector<pb::Entry>& entries, Index leader_commit,
                           std::uint64_t read_round) {
  pb::Message message = envelope(from, to, term);
  auto* append = message.mutable_append_entries();
  append->set_prev_log_index(prev_index);
  append->set_prev_log_term(prev_term);
  for (const pb::Entry& e : entries) *append->add_entries() = e;
  append->set_leader_commit(leader_commit);
  append->set_read_round(read_round);
  return message;
}

pb::Message append_response(NodeId from, NodeId to, Term term, Index match_index, std::uint64_t read_round) {
  pb::Message message = envelope(from, to, term);
  auto* response = message.mutable_append_entries_response();
  response->set_success(true);
  response->set_match_index(match_index);
  response->set_read_round(read_round);
  return message;
}

pb::Message append_rejection(NodeId from, NodeId to, Term term, Index rejected_index, Index conflict_index,
                             Term conflict_term) {
  pb::Message message = envelope(from, to, term);
  auto* response = message.mutable_append_entries_response();
  response->set_success(false);
  response->set_rejected_index(rejected_index);
  response->set_conflict_index(conflict_index);
  response->set_conflict_term(conflict_term);
  return message;
}

pb::Message timeout_now(NodeId from, NodeId to, Term term) {
  pb::Message message = envelope(from, to, term);
  message.mutable_timeout_now();
  return message;
}

pb::Message read_index_response(NodeId from, NodeId to, Term term, std::uint64_t request_id, Index read_index,
                                bool success) {
  pb::Message message = envelope(from, to, term);
  auto* response = message.mutable_read_index_response();
  response->set_request_id(request_id);
  response->set_read_index(read_index);
  response->set_success(success);
  return message;
}

pb::Message install_snapshot_response(NodeId from, NodeId to, Term term, Index snapshot_index,
                                      std::uint64_t next_offset, bool done) {
  pb::Message message = envelope(from, to, term);
  auto* response = message.mutable_install_snapshot_response();
  response->set_snapshot_index(snapshot_index);
  response->set_next_offset(next_offset);
  response->set_done(done);
  return message;
}

std::vector<pb::Message> Drained::all_messages() const {
  std::vector<pb::Message> result = ready.messages;
  result.insert(result.end(), ready.messages_after_persist.begin(), ready.messages_after_persist.end());
  return result;
}

Drained drain(Core& core) {
  Drained drained{core.ready()};
  core.advance(drained.ready);
  return drained;
}

std::vector<pb::Message> drain_messages(Core& core) {
  std::vector<pb::Message> result;
  while (core.has_ready()) {
    std::vector<pb::Message> batch = drain(core).all_messages();
    result.insert(result.end(), batch.begin(), batch.end());
  }
  return result;
}

std::unique_ptr<Core> elected_leader(CoreConfig config, RestoredState restored) {
  auto core = std::make_unique<Core>(std::move(config), std::move(restored));
  core->campaign();
  drain_messages(*core);
  for (NodeId voter : core->config().voters) {
    if (voter != core->id()) core->step(vote_response(voter, core->id(), core->term(), true));
  }
  if (core->role() != Role::kLeader) throw std::logic_error("elected_leader: the core did not win");
  drain_messages(*core);
  return core;
}

std::vector<Term> log_terms(const Core& core) {
  std::vector<Term> terms;
  for (Index i = core.log().first_index(); i <= core.log().last_index(); ++i) {
    terms.push_back(core.log().at(i).term());
  }
  return terms;
}

CoreNetwork::CoreNetwork(std::size_t size, std::function<void(CoreConfig&)> tweak) {
  std::vector<NodeId> voters;
  for (NodeId id = 1; id <= size; ++id) voters.push_back(id);
  for (NodeId id : voters) {
    CoreConfig config = test_config(id, voters);
    config.random_seed = id;
    if (tweak) tweak(config);
    cores_[id] = std::make_unique<Core>(config);
  }
}

std::vector<NodeId> CoreNetwork::ids() const {
  std::vector<NodeId> result;
  for (const auto& [id, core] : cores_) result.push_back(id);
  return result;
}

bool CoreNetwork::linked(NodeId a, NodeId b) const {
  return !cut_links_.contains({a, b}) && !cut_links_.contains({b, a});
}

void CoreNetwork::isolate(NodeId id) {
  for (const auto& [other, core] : cores_) {
    if (other != id) cut(id, other);
  }
}

void CoreNetwork::cut(NodeId a, NodeId b) {
  cut_links_.insert({a, b});
}

void CoreNetwork::tick_all(int ticks) {
  for (int i = 0; i < ticks; ++i) {
    for (auto& [id, core] : cores_) core->tick();
    settle();
  }
}

void CoreNetwork::settle() {
  std::deque<pb::Message> in_flight;
  for (int rounds = 0;; ++rounds) {
    if (rounds > 100000) throw std::runtime_error("network does not settle");
    bool any = false;
    for (auto& [id, core] : cores_) {
      while (core->has_ready()) {
        any = true;
        Drained drained = drain(*core);
        for (pb::Entry& e : drained.ready.committed_entries) applied_[id].push_back(std::move(e));
        for (ReadState& read : drained.ready.read_states) read_states_[id].push_back(read);
        for (pb::Message& message : drained.all_messages()) in_flight.push_back(std::move(message));
      }
    }
    if (in_flight.empty() && !any) return;
    while (!in_flight.empty()) {
      pb::Message message = std::move(in_flight.front());
      in_flight.pop_front();
      if (!linked(message.from(), message.to()) || !cores_.contains(message.to())) continue;
      ++delivered_;
      cores_.at(message.to())->step(message);
    }
  }
}

}  // namespace raft::testing
