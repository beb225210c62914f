// libFuzzer target: any sequence of decoded peer messages, ticks, proposals,
// reads, campaigns and transfers, handed to the Raft core of node 1 in a
// cluster of {1, 2, 3}. Raft trusts its peers to follow the protocol, so the
// target is not that the node stays correct against a liar; it is that
// nothing a peer sends can crash it, corrupt its state or make it break the
// rules it keeps on its own:
//
//   - its term never decreases, and within a term its vote never changes;
//   - its commit index never decreases and never passes its last index;
//   - an entry, once committed here, keeps its term for as long as it is in
//     the log (a "leader" sending conflicting entries below the commit
//     index is ignored);
//   - committed entries are handed to the state machine once each, in order;
//   - it leads only as itself.
//
// The core's own assertions (kept in optimized builds) run as well. A
// violation aborts with a message; libFuzzer saves the input.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <map>

#include "raft/core.h"
#include "tests/fuzz/quiet_protobuf.h"
#include "tests/unit/core_test_support.h"

namespace {

[[noreturn]] void violated(const char* rule, unsigned long long a, unsigned long long b) {
  std::fprintf(stderr, "invariant violated: %s (%llu, %llu)\n", rule, a, b);
  std::abort();
}

class Observer {
 public:
  explicit Observer(raft::Core& core) : core_(core) {}

  void check_after_step() {
    if (core_.term() < term_) violated("term decreased", term_, core_.term());
    if (core_.term() == term_ && vote_ != raft::kNoNode && core_.voted_for() != vote_)
      violated("vote changed within a term", vote_, core_.voted_for());
    term_ = core_.term();
    vote_ = core_.voted_for();
    const raft::RaftLog& log = core_.log();
    if (log.committed() < commit_) violated("commit index decreased", commit_, log.committed());
    if (log.committed() > log.last_index())
      violated("commit index past the log", log.committed(), log.last_index());
    for (raft::Index index = std::max(commit_ + 1, log.first_index()); index <= log.committed(); ++index) {
      if (committed_terms_.size() < 100'000) committed_terms_[index] = log.term_at(index).value();
    }
    commit_ = log.committed();
    for (auto it = committed_terms_.lower_bound(log.first_index()); it != committed_terms_.end(); ++it) {
      if (it->first > log.last_index())
        violated("a committed entry left the log", it->first, log.last_index());
      const auto term = log.term_at(it->first);
      if (!term.has_value() || *term != it->second)
        violated("a committed entry changed", it->first, it->second);
    }
    if (core_.role() == raft::Role::kLeader && core_.leader() != core_.id())
      violated("leads as another node", core_.id(), core_.leader());
  }

  void check_ready(const raft::Ready& ready) {
    if (ready.snapshot) applied_ = std::max(applied_, ready.snapshot->index());
    for (const raft::pb::Entry& entry : ready.committed_entries) {
      if (entry.index() != applied_ + 1) violated("committed entries out of order", applied_, entry.index());
      applied_ = entry.index();
    }
  }

 private:
  raft::Core& core_;
  raft::Term term_ = 0;
  raft::NodeId vote_ = raft::kNoNode;
  raft::Index commit_ = 0;
  raft::Index applied_ = 0;
  std::map<raft::Index, raft::Term> committed_terms_;
};

// A well-formed message of any kind, with indexes near the node's log and
// terms near its own: what a confused, partitioned or stale peer could send.
// (Raw protobuf bytes rarely decode into messages that get past the first
// checks; these reach elections, commits, conflicts and snapshots.)
raft::pb::Message structured_message(const raft::Core& core, FuzzedDataProvider& input) {
  raft::pb::Message message;
  message.set_from(input.ConsumeIntegralInRange<raft::NodeId>(1, 4));
  message.set_to(1);
  const raft::Term term = core.term() + input.ConsumeIntegralInRange<raft::Term>(0, 2) -
                          (core.term() > 0 && input.ConsumeBool() ? 1 : 0);
  message.set_term(term);
  const raft::Index last = core.log().last_index();
  auto near_index = [&] { return input.ConsumeIntegralInRange<raft::Index>(0, last + 3); };
  auto some_term = [&] { return input.ConsumeIntegralInRange<raft::Term>(0, term); };
  switch (input.ConsumeIntegralInRange(0, 8)) {
    case 0: {
      auto* vote = message.mutable_request_vote();
      vote->set_last_log_index(near_index());
      vote->set_last_log_term(some_term());
      vote->set_pre_vote(input.ConsumeBool());
      vote->set_leadership_transfer(input.ConsumeIntegralInRange(0, 7) == 0);
      break;
    }
    case 1: {
      auto* answer = message.mutable_request_vote_response();
      answer->set_vote_granted(input.ConsumeBool());
      answer->set_pre_vote(input.ConsumeBool());
      answer->set_requester_removed(input.ConsumeIntegralInRange(0, 15) == 0);
      break;
    }
    case 2: {
      auto* append = message.mutable_append_entries();
      const raft::Index prev = near_index();
      append->set_prev_log_index(prev);
      const std::optional<raft::Term> held = core.log().term_at(prev);
      const raft::Term prev_term = held && input.ConsumeBool() ? *held : some_term();
      append->set_prev_log_term(prev_term);
      raft::Term entry_term = std::min(prev_term, term);
      const int count = input.ConsumeIntegralInRange(0, 4);
      for (int i = 1; i <= count; ++i) {
        entry_term = input.ConsumeIntegralInRange<raft::Term>(entry_term, term);
        raft::pb::Entry* entry = append->add_entries();
        entry->set_index(prev + static_cast<raft::Index>(i));
        entry->set_term(entry_term);
        const int kind = input.ConsumeIntegralInRange(0, 9);
        if (kind == 0) {
          entry->set_type(raft::pb::ENTRY_NOOP);
        } else if (kind == 1) {
          entry->set_type(raft::pb::ENTRY_CONFIGURATION);
          raft::pb::Configuration configuration;
          for (raft::NodeId id = 1; id <= 4; ++id) {
            const int role = input.ConsumeIntegralInRange(0, 2);  // voter, learner, not a member
            raft::pb::Member* member = role == 0   ? configuration.add_voters()
                                       : role == 1 ? configuration.add_learners()
                                                   : nullptr;
            if (member != nullptr) member->set_id(id);
          }
          entry->set_data(configuration.SerializeAsString());
        } else {
          entry->set_data("c");
        }
      }
      append->set_leader_commit(near_index());
      append->set_read_round(input.ConsumeIntegralInRange<std::uint64_t>(0, 3));
      break;
    }
    case 3: {
      auto* answer = message.mutable_append_entries_response();
      answer->set_success(input.ConsumeBool());
      answer->set_match_index(near_index());
      answer->set_rejected_index(near_index());
      answer->set_conflict_index(near_index());
      answer->set_conflict_term(some_term());
      answer->set_read_round(input.ConsumeIntegralInRange<std::uint64_t>(0, 3));
      break;
    }
    case 4: {
      auto* chunk = message.mutable_install_snapshot();
      chunk->mutable_snapshot()->set_index(near_index() + input.ConsumeIntegralInRange<raft::Index>(0, 5));
      chunk->mutable_snapshot()->set_term(some_term());
      for (raft::NodeId id = 1; id <= 3; ++id)
        chunk->mutable_snapshot()->mutable_configuration()->add_voters()->set_id(id);
      chunk->mutable_snapshot()->set_size(input.ConsumeIntegralInRange<std::uint64_t>(0, 64));
      chunk->set_offset(input.ConsumeIntegralInRange<std::uint64_t>(0, 64));
      chunk->set_data(input.ConsumeRandomLengthString(64));
      chunk->set_done(input.ConsumeBool());
      break;
    }
    case 5: {
      auto* answer = message.mutable_install_snapshot_response();
      answer->set_snapshot_index(near_index());
      answer->set_next_offset(input.ConsumeIntegralInRange<std::uint64_t>(0, 64));
      answer->set_done(input.ConsumeBool());
      break;
    }
    case 6: message.mutable_timeout_now(); break;
    case 7:
      message.mutable_read_index_request()->set_request_id(input.ConsumeIntegralInRange<std::uint64_t>(0, 7));
      break;
    case 8: {
      auto* answer = message.mutable_read_index_response();
      answer->set_request_id(input.ConsumeIntegralInRange<std::uint64_t>(0, 7));
      answer->set_read_index(near_index());
      answer->set_success(input.ConsumeBool());
      break;
    }
  }
  return message;
}

void drain(raft::Core& core, Observer& observer, FuzzedDataProvider& input) {
  while (core.has_ready()) {
    raft::Ready ready = core.ready();
    observer.check_ready(ready);
    core.advance(ready);
    // Received snapshot chunks: the driver checks the file; say it was
    // intact or damaged, as the input decides.
    for (const raft::pb::InstallSnapshot& chunk : ready.snapshot_chunks) {
      if (chunk.done()) core.snapshot_received(chunk.snapshot().index(), input.ConsumeBool());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  raft::CoreConfig config = raft::testing::test_config(1, {1, 2, 3});
  config.pre_vote = input.ConsumeBool();
  config.check_quorum = input.ConsumeBool();
  raft::Core core(config);
  Observer observer(core);
  int proposals = 0;
  while (input.remaining_bytes() > 0) {
    switch (input.ConsumeIntegralInRange(0, 8)) {
      case 0: core.tick(); break;
      case 1:
      case 2:  // the common case: a well-formed message from a peer
        core.step(structured_message(core, input));
        break;
      case 8:
      case 3: {  // raw bytes, whatever protobuf decodes them into
        raft::pb::Message message;
        if (!message.ParseFromString(input.ConsumeRandomLengthString(4096))) break;
        message.set_from(input.ConsumeIntegralInRange<raft::NodeId>(1, 4));
        message.set_to(1);
        // Terms near the node's own, so that messages are not all stale or
        // all from the far future.
        message.set_term(core.term() + input.ConsumeIntegralInRange<raft::Term>(0, 2) -
                         (core.term() > 0 && input.ConsumeBool() ? 1 : 0));
        core.step(message);
        break;
      }
      case 4:
        if (proposals++ < 1000) (void)core.propose("command");
        break;
      case 5: core.read_index(input.ConsumeIntegral<std::uint32_t>()); break;
      case 6: core.campaign(); break;
      case 7: (void)core.transfer_leadership(input.ConsumeIntegralInRange<raft::NodeId>(1, 4)); break;
    }
    drain(core, observer, input);
    observer.check_after_step();
  }
  return 0;
}
