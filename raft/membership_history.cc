#include "raft/membership_history.h"

#include <algorithm>
#include <cassert>

namespace raft {

MembershipHistory::MembershipHistory(Index base_index, Membership base) {
  history_.emplace_back(base_index, std::move(base));
}

MembershipHistory::Entries::const_iterator MembershipHistory::in_force(Index index) const {
  // The last configuration whose entry is at or before `index`; the base
  // for anything earlier.
  auto after = std::upper_bound(history_.begin() + 1, history_.end(), index,
                                [](Index wanted, const auto& entry) { return wanted < entry.first; });
  return std::prev(after);
}

Index MembershipHistory::index_at(Index index) const {
  return in_force(index)->first;
}

const Membership& MembershipHistory::at(Index index) const {
  return in_force(index)->second;
}

void MembershipHistory::append(Index index, Membership membership) {
  assert(index > history_.back().first);
  history_.emplace_back(index, std::move(membership));
  ++version_;
}

void MembershipHistory::truncate_after(Index index) {
  while (history_.size() > 1 && history_.back().first > index) {
    history_.pop_back();
    ++version_;
  }
}

void MembershipHistory::compact(Index index) {
  history_.erase(history_.begin(), in_force(index));
}

void MembershipHistory::reset(Index index, Membership membership) {
  history_.clear();
  history_.emplace_back(index, std::move(membership));
  ++version_;
}

}  // namespace raft
