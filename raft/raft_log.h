#pragma once
// The Raft log as the core sees it: every entry after the compaction point
// (the base), held in memory as etcd does, plus the positions the core tracks:
//
//   base_index <= applied <= committed <= last_index
//   base_index <= stable <= last_index
//
// `stable` is the last index known to be on durable storage. Entries after it
// are handed to the driver in a Ready and become stable when it calls back.
// Memory and disk stay bounded because log compaction (§7) drops the prefix
// that a snapshot of the state machine covers; the base keeps the term of
// the last dropped entry for the consistency check at the boundary.
//
// Between snapshots the log can grow to many MiB of commands that every
// member already stores and has applied. With a payload budget set, the
// oldest applied, stable entries keep only their index and term in memory
// (the payload is on disk); `payloads_from()` is the first index whose
// payload is still here. slice() returns older entries without payloads,
// and the driver fills them in from storage before sending (log_payloads.h).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <vector>

#include "raft/types.h"

namespace raft {

class RaftLog {
 public:
  RaftLog() = default;
  // A log restored from storage: everything given is already stable. Throws
  // std::invalid_argument when the pieces do not fit together.
  RaftLog(Index base_index, Term base_term, std::vector<pb::Entry> entries, Index committed, Index applied);

  Index base_index() const { return base_index_; }
  Term base_term() const { return base_term_; }
  Index first_index() const { return base_index_ + 1; }
  Index last_index() const { return base_index_ + entries_.size(); }
  Term last_term() const;

  // Term of the entry at `index`; nullopt when the entry is not in the log
  // (beyond its end, or compacted away before the base).
  std::optional<Term> term_at(Index index) const;
  bool matches(Index index, Term term) const;
  const pb::Entry& at(Index index) const;

  // §5.4.1: a log with a later last term is more up to date; with equal last
  // terms, the longer log is.
  bool is_up_to_date(Index other_last_index, Term other_last_term) const;

  // Leader: appends one entry at last_index() + 1 and returns its index.
  Index append(pb::Entry entry);

  // Follower, Figure 2 AppendEntries receiver rules 3 and 4, after the
  // consistency check at `prev_index` passed: skips entries the log already
  // has, truncates at the first conflicting one, appends the rest. Returns
  // the index of the last new entry (prev_index + entries.size()).
  template <typename Entries>
  Index append_after(Index prev_index, const Entries& entries);

  // First index of the run of entries that share the term of `index` (used
  // for the conflict hint of a rejected AppendEntries, §5.3).
  Index first_index_of_term_run(Index index) const;
  // Last index holding an entry of `term`, if any (leader side of the hint).
  std::optional<Index> last_index_of_term(Term term) const;

  // Entries from `from` on, at most max_entries of them and about max_bytes
  // of payload, but always at least one when any exist. Entries before
  // payloads_from() come without their payloads (their sizes still count).
  std::vector<pb::Entry> slice(Index from, std::size_t max_entries, std::size_t max_bytes) const;

  // The payload budget: payloads of applied, stable entries beyond the
  // newest `bytes` of them are dropped from memory (the default keeps all).
  void limit_payload_bytes(std::size_t bytes);
  Index payloads_from() const { return payloads_from_; }
  // Payload bytes held in memory, of entries payloads_from() and later.
  std::size_t payload_bytes() const { return payload_bytes_; }

  Index committed() const { return committed_; }
  void commit_to(Index index);

  // Durability hand-off with the driver.
  Index stable_index() const { return stable_; }
  std::vector<pb::Entry> unstable_entries() const;
  void mark_stable(Index index);

  // Application hand-off: entries in (applied, committed], up to max_bytes.
  Index applied() const { return applied_; }
  bool has_entries_to_apply() const { return committed_ > applied_; }
  std::vector<pb::Entry> entries_to_apply(std::size_t max_bytes) const;
  void mark_applied(Index index);

  // Log compaction (§7): drops the entries up to `index`, which must be
  // applied and stable, making it the new base.
  void compact(Index index);
  // Installing a snapshot at (index, term) that the log does not already
  // hold: everything is replaced by the snapshot, which is committed,
  // applied and stable by definition.
  void restore(Index index, Term term);

 private:
  void truncate_and_append(const pb::Entry& entry);
  void release_payloads();

  Index base_index_ = 0;
  Term base_term_ = 0;
  std::vector<pb::Entry> entries_;  // entries_[0] has index base_index_ + 1
  Index committed_ = 0;
  Index applied_ = 0;
  Index stable_ = 0;

  std::size_t payload_limit_ = std::numeric_limits<std::size_t>::max();
  std::size_t payload_bytes_ = 0;
  Index payloads_from_ = 1;
  // Payload sizes of the entries in [first_index(), payloads_from_), whose
  // payloads were dropped: they still count towards slice()'s max_bytes.
  std::deque<std::uint32_t> dropped_sizes_;
};

template <typename Entries>
Index RaftLog::append_after(Index prev_index, const Entries& entries) {
  Index index = prev_index;
  for (const pb::Entry& entry : entries) {
    ++index;
    const std::optional<Term> existing = term_at(index);
    if (existing == entry.term()) continue;  // already have it (e.g. a retransmission)
    truncate_and_append(entry);
  }
  return index;
}

}  // namespace raft
