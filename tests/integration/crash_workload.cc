#include "tests/integration/crash_workload.h"

#include <algorithm>
#include <string>

namespace raft::testing {

Save CrashWorkload::next() {
  Save save;
  save.hard_state = state_.hard_state;
  const Index last = state_.entries.empty() ? 0 : state_.entries.back().index();
  Index first = last + 1;
  const std::uint64_t kind = random_.uniform(0, 10);
  if (kind == 0) {
    // A new term: vote, and overwrite part of the uncommitted suffix.
    save.hard_state.set_term(save.hard_state.term() + 1);
    save.hard_state.set_vote(random_.uniform(1, 6));
    const Index committed = save.hard_state.commit();
    if (last > committed) first = random_.uniform(committed + 1, last + 2);
  } else if (kind == 1 && last > save.hard_state.commit()) {
    save.hard_state.set_commit(random_.uniform(save.hard_state.commit() + 1, last + 1));
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
  state_.hard_state = save.hard_state;
  if (save.entries.empty()) return;
  state_.entries.resize(save.entries.front().index() - 1);
  state_.entries.insert(state_.entries.end(), save.entries.begin(), save.entries.end());
}

bool same_state(const PersistentState& a, const PersistentState& b) {
  if (a.hard_state.SerializeAsString() != b.hard_state.SerializeAsString()) return false;
  if (a.entries.size() != b.entries.size()) return false;
  for (std::size_t i = 0; i < a.entries.size(); ++i) {
    if (a.entries[i].SerializeAsString() != b.entries[i].SerializeAsString()) return false;
  }
  return true;
}

}  // namespace raft::testing
