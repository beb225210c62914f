#include "tests/integration/crash_workload.h"

#include <algorithm>
#include <string>

namespace raft::testing {

Term CrashWorkload::term_at(Index index) const {
  if (index == state_.log_base.index()) return state_.log_base.term();
  return state_.entries[index - state_.log_base.index() - 1].term();
}

Save CrashWorkload::next() {
  Save save;
  const Index base = state_.log_base.index();
  const Index last = last_index();
  const Index committed = std::min(state_.hard_state.commit(), last);
  const std::uint64_t kind = random_.uniform(0, 40);
  if (kind == 0 && committed > state_.snapshot.index() && committed >= base) {
    // A snapshot of the state machine at a committed entry the log holds.
    save.kind = Save::Kind::kSnapshot;
    const Index index = random_.uniform(std::max(state_.snapshot.index(), base) + 1, committed + 1);
    save.snapshot.set_index(index);
    save.snapshot.set_term(term_at(index));
    save.snapshot.set_size(random_.uniform(100, 100000));
    return save;
  }
  if (kind == 1) {
    // A snapshot from a leader, beyond this log: it replaces the log.
    save.kind = Save::Kind::kSnapshot;
    save.snapshot.set_index(last + random_.uniform(1, 50));
    save.snapshot.set_term(std::max<Term>(state_.hard_state.term(), 1));
    save.snapshot.set_size(random_.uniform(100, 100000));
    return save;
  }
  if (kind == 2 && state_.snapshot.index() > base) {
    save.kind = Save::Kind::kCompact;
    save.compact_through = random_.uniform(base + 1, state_.snapshot.index() + 1);
    return save;
  }
  save.hard_state = state_.hard_state;
  Index first = last + 1;
  if (kind < 6) {
    // A new term: vote, and overwrite part of the uncommitted suffix.
    save.hard_state.set_term(save.hard_state.term() + 1);
    save.hard_state.set_vote(random_.uniform(1, 6));
    const Index floor = std::max({committed, base, state_.snapshot.index()});
    if (last > floor) first = random_.uniform(floor + 1, last + 2);
  } else if (kind < 10 && last > committed) {
    save.hard_state.set_commit(random_.uniform(committed + 1, last + 1));
  }
  const Term term = std::max<Term>(save.hard_state.term(), 1);
  const std::uint64_t count = random_.uniform(1, 17);
  for (std::uint64_t i = 0; i < count; ++i) {
    pb::Entry entry;
    entry.set_index(first + i);
    entry.set_term(term);
    entry.set_data(std::string(random_.uniform(1, 257), static_cast<char>('a' + random_.uniform(0, 26))));
    save.entries.push_back(std::move(entry));
  }
  return save;
}

void CrashWorkload::apply(const Save& save) {
  const Index base = state_.log_base.index();
  switch (save.kind) {
    case Save::Kind::kSave:
      state_.hard_state = save.hard_state;
      if (save.entries.empty()) return;
      state_.entries.resize(save.entries.front().index() - base - 1);
      state_.entries.insert(state_.entries.end(), save.entries.begin(), save.entries.end());
      return;
    case Save::Kind::kSnapshot: {
      const Index index = save.snapshot.index();
      const bool held = index >= base && index <= last_index() && term_at(index) == save.snapshot.term();
      if (!held) {
        state_.entries.clear();
        state_.log_base.set_index(index);
        state_.log_base.set_term(save.snapshot.term());
      }
      state_.snapshot = save.snapshot;
      return;
    }
    case Save::Kind::kCompact: {
      const Index through = save.compact_through;
      state_.log_base.set_term(term_at(through));
      state_.entries.erase(state_.entries.begin(),
                           state_.entries.begin() + static_cast<std::ptrdiff_t>(through - base));
      state_.log_base.set_index(through);
      return;
    }
  }
}

Status perform(Storage& storage, const Save& save) {
  switch (save.kind) {
    case Save::Kind::kSave: return storage.save(&save.hard_state, save.entries, /*sync=*/true);
    case Save::Kind::kSnapshot: return storage.save_snapshot(save.snapshot);
    case Save::Kind::kCompact: return storage.compact(save.compact_through);
  }
  return Error{ErrorCode::kInvalidArgument, "unknown operation"};
}

bool same_state(const PersistentState& a, const PersistentState& b) {
  if (a.hard_state.SerializeAsString() != b.hard_state.SerializeAsString()) return false;
  if (a.snapshot.SerializeAsString() != b.snapshot.SerializeAsString()) return false;
  if (a.log_base.SerializeAsString() != b.log_base.SerializeAsString()) return false;
  if (a.entries.size() != b.entries.size()) return false;
  for (std::size_t i = 0; i < a.entries.size(); ++i) {
    if (a.entries[i].SerializeAsString() != b.entries[i].SerializeAsString()) return false;
  }
  return true;
}

}  // namespace raft::testing
