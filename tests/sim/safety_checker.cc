#include "tests/sim/safety_checker.h"

#include <algorithm>

namespace raft::sim {

void SafetyChecker::fail(std::string what) {
  if (!violation_) violation_ = std::move(what);
}

void SafetyChecker::on_leader(NodeId node, const Core& core) {
  auto [it, inserted] = leader_of_term_.emplace(core.term(), node);
  if (!inserted && it->second != node) {
    fail("Election Safety: nodes " + std::to_string(it->second) + " and " + std::to_string(node) +
         " both leaders in term " + std::to_string(core.term()));
  }
  if (!core.membership().is_voter(node)) {
    fail("Membership: node " + std::to_string(node) + " was elected in term " + std::to_string(core.term()) +
         " but is no voter of its configuration (" + core.membership().describe() + ")");
  }
}

void SafetyChecker::check_membership(const Core& core) {
  const MembershipHistory& history = core.memberships();
  const RaftLog& log = core.log();
  const std::string node = "Membership: node " + std::to_string(core.id());
  for (Index index = std::max(log.first_index(), history.all().front().first + 1); index <= log.last_index();
       ++index) {
    const pb::Entry& entry = log.at(index);
    const bool recorded = history.index_at(index) == index;
    if (recorded != (entry.type() == pb::ENTRY_CONFIGURATION)) {
      fail(node +
           (recorded ? " records a configuration at index " : " missed the configuration entry at index ") +
           std::to_string(index));
      return;
    }
    if (!recorded || index < log.payloads_from()) continue;  // a dropped payload cannot be compared
    const Result<Membership> parsed = Membership::parse(entry.data());
    if (!parsed.ok() || !(parsed.value() == history.at(index))) {
      fail(node + " uses " + history.at(index).describe() + " for the configuration entry at index " +
           std::to_string(index));
      return;
    }
  }
}

void SafetyChecker::on_entries_written(const Core& core, const std::vector<pb::Entry>& entries) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const pb::Entry& entry = entries[i];
    const Term previous = i == 0 ? core.log().term_at(entry.index() - 1).value_or(0) : entries[i - 1].term();
    auto [it, inserted] =
        written_.try_emplace({entry.index(), entry.term()}, EntryIdentity{previous, entry.data()});
    if (!inserted && (it->second.previous_term != previous || it->second.data != entry.data())) {
      fail("Log Matching: node " + std::to_string(core.id()) + " wrote a different entry at index " +
           std::to_string(entry.index()) + " term " + std::to_string(entry.term()));
    }
  }
}

void SafetyChecker::check_logs_match(const Core& a, const Core& b) {
  const Index last = std::min(a.log().last_index(), b.log().last_index());
  // Compacted entries are checked where snapshots are restored.
  const Index first = std::max(a.log().first_index(), b.log().first_index());
  // From the highest index where the terms agree, every earlier entry must
  // agree too.
  Index index = last;
  while (index >= first && a.log().term_at(index) != b.log().term_at(index)) --index;
  for (; index >= first; --index) {
    const pb::Entry& x = a.log().at(index);
    const pb::Entry& y = b.log().at(index);
    // A payload dropped from memory (log_payload_cache_bytes) was compared
    // when it was applied; here only the term is left to compare.
    const bool both_have_payloads = index >= a.log().payloads_from() && index >= b.log().payloads_from();
    if (x.term() != y.term() || (both_have_payloads && x.data() != y.data())) {
      fail("Log Matching: nodes " + std::to_string(a.id()) + " and " + std::to_string(b.id()) +
           " agree on a later entry but differ at index " + std::to_string(index));
      return;
    }
  }
}

void SafetyChecker::on_leader_write(const Core& core, const std::vector<pb::Entry>& entries) {
  for (const pb::Entry& entry : entries) {
    if (entry.term() != core.term()) {
      fail("Leader Append-Only: leader " + std::to_string(core.id()) + " of term " +
           std::to_string(core.term()) + " wrote index " + std::to_string(entry.index()) + " term " +
           std::to_string(entry.term()));
    }
  }
}

void SafetyChecker::on_committed(const Core& core, Index from, Index to) {
  for (Index index = std::max(from, core.log().first_index()); index <= to; ++index) {
    const pb::Entry& entry = core.log().at(index);
    const bool has_payload = index >= core.log().payloads_from();
    auto [it, inserted] = committed_.try_emplace(index, CommittedEntry{entry, core.term(), has_payload});
    const pb::Entry& known = it->second.entry;
    const bool comparable = has_payload && it->second.has_payload;
    if (!inserted && (known.term() != entry.term() || (comparable && known.data() != entry.data()))) {
      fail("State Machine Safety: node " + std::to_string(core.id()) + " committed term " +
           std::to_string(entry.term()) + " at index " + std::to_string(index) + " where term " +
           std::to_string(known.term()) + " was committed" +
           (known.term() == entry.term() ? " with a different command" : ""));
    }
    it->second.committed_in = std::min(it->second.committed_in, core.term());
    if (has_payload && !it->second.has_payload && known.term() == entry.term()) {
      it->second.entry = entry;  // the first node to commit it had dropped the payload already
      it->second.has_payload = true;
    }
  }
}

void SafetyChecker::check_leader_has_committed_entries(const Core& core) {
  for (const auto& [index, committed] : committed_) {
    if (committed.committed_in >= core.term()) continue;
    if (index < core.log().base_index()) continue;  // in its snapshot, checked on restore
    if (core.log().term_at(index) != committed.entry.term()) {
      fail("Leader Completeness: leader " + std::to_string(core.id()) + " of term " +
           std::to_string(core.term()) + " lacks index " + std::to_string(index) + " (term " +
           std::to_string(committed.entry.term()) + ") committed in term " +
           std::to_string(committed.committed_in));
      return;
    }
  }
}

void SafetyChecker::on_applied(NodeId node, const pb::Entry& entry, Index expected_index) {
  if (entry.index() != expected_index) {
    fail("node " + std::to_string(node) + " applied index " + std::to_string(entry.index()) +
         " out of order, expected " + std::to_string(expected_index));
  }
  auto [it, inserted] = applied_.try_emplace(entry.index(), entry);
  if (!inserted && (it->second.term() != entry.term() || it->second.data() != entry.data())) {
    fail("State Machine Safety: node " + std::to_string(node) + " applied term " +
         std::to_string(entry.term()) + " at index " + std::to_string(entry.index()) +
         " where another node applied term " + std::to_string(it->second.term()) +
         (it->second.term() == entry.term() ? " with a different command" : ""));
  }
}

void SafetyChecker::on_snapshot_restored(NodeId node, Index index, const std::vector<pb::Entry>& entries) {
  if (entries.size() != index) {
    fail("node " + std::to_string(node) + " restored a snapshot at index " + std::to_string(index) +
         " holding " + std::to_string(entries.size()) + " entries");
    return;
  }
  for (Index expected = 1; const pb::Entry& entry : entries) on_applied(node, entry, expected++);
}

void SafetyChecker::on_hard_state_persisted(NodeId node, const pb::HardState& before,
                                            const pb::HardState& after) {
  if (after.term() < before.term()) {
    fail("node " + std::to_string(node) + " persisted term " + std::to_string(after.term()) + " after term " +
         std::to_string(before.term()));
  } else if (after.term() == before.term() && before.vote() != kNoNode && after.vote() != before.vote()) {
    fail("node " + std::to_string(node) + " changed its vote in term " + std::to_string(after.term()));
  }
}

void SafetyChecker::on_read(NodeId node, Index read_index, Index committed_when_requested) {
  if (read_index < committed_when_requested) {
    fail("ReadIndex linearizability: node " + std::to_string(node) + " served a read at index " +
         std::to_string(read_index) + " although index " + std::to_string(committed_when_requested) +
         " was committed before the read began");
  }
}

}  // namespace raft::sim
