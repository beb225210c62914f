#pragma once
// The configurations in a node's log, newest last (dissertation §4.1).
//
// A server uses the latest configuration in its log whether or not it is
// committed, so a configuration entry takes effect when appended -- and
// when a new leader truncates it away, the server falls back to the one
// before. The history therefore keeps every configuration entry still in
// the log, above a base: the configuration in force at the log's start
// (from the snapshot, or the bootstrap configuration of a new cluster).
// It stays tiny: one entry per membership change since the last snapshot.

#include <cstdint>
#include <utility>
#include <vector>

#include "raft/membership.h"
#include "raft/types.h"

namespace raft {

class MembershipHistory {
 public:
  MembershipHistory(Index base_index, Membership base);

  const Membership& latest() const { return history_.back().second; }
  Index latest_index() const { return history_.back().first; }
  // The configuration in force at `index`: the latest one at or before it
  // (the base for indexes before the base).
  const Membership& at(Index index) const;
  Index index_at(Index index) const;  // where that configuration's entry is
  // Every configuration still in the history, oldest (the base) first.
  // Changes whenever latest() may have: an append, a truncation that
  // dropped a configuration, a reset.
  std::uint64_t version() const { return version_; }
  using Entries = std::vector<std::pair<Index, Membership>>;
  const Entries& all() const { return history_; }

  // A configuration entry was appended at `index` (after every other one).
  void append(Index index, Membership membership);
  // The log lost its entries after `index`, and with them their configurations.
  void truncate_after(Index index);
  // The log was compacted through `index`: what was in force there becomes
  // the base.
  void compact(Index index);
  // A snapshot replaced the whole log.
  void reset(Index index, Membership membership);

 private:
  Entries::const_iterator in_force(Index index) const;

  Entries history_;  // never empty; [0] is the base
  std::uint64_t version_ = 0;
};

}  // namespace raft
