#include "raft/raft_log.h"

#include <algorithm>
#include <cassert>
#include <stdexcept>
#include <string>

namespace raft {

RaftLog::RaftLog(Index base_index, Term base_term, std::vector<pb::Entry> entries, Index committed,
                 Index applied)
    : base_index_(base_index), base_term_(base_term), entries_(std::move(entries)) {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].index() != base_index_ + 1 + i) {
      throw std::invalid_argument("restored log is not contiguous at index " +
                                  std::to_string(entries_[i].index()));
    }
  }
  if (applied > last_index()) {
    throw std::invalid_argument("the state machine has applied index " + std::to_string(applied) +
                                " but the log ends at " + std::to_string(last_index()));
  }
  stable_ = last_index();
  // The persisted commit index may be ahead of a log that lost an unsynced
  // tail only if storage broke its contract; never claim more than we hold.
  // Everything up to the base was applied to make the snapshot.
  committed_ = std::max({std::min(committed, last_index()), applied, base_index_});
  applied_ = std::max(applied, base_index_);
  payloads_from_ = base_index_ + 1;
  for (const pb::Entry& entry : entries_) payload_bytes_ += entry.data().size();
}

Term RaftLog::last_term() const {
  return entries_.empty() ? base_term_ : entries_.back().term();
}

std::optional<Term> RaftLog::term_at(Index index) const {
  if (index == base_index_) return base_term_;
  if (index < base_index_ || index > last_index()) return std::nullopt;
  return entries_[index - base_index_ - 1].term();
}

bool RaftLog::matches(Index index, Term term) const {
  return term_at(index) == term;
}

const pb::Entry& RaftLog::at(Index index) const {
  assert(index > base_index_ && index <= last_index());
  return entries_[index - base_index_ - 1];
}

bool RaftLog::is_up_to_date(Index other_last_index, Term other_last_term) const {
  if (other_last_term != last_term()) return other_last_term > last_term();
  return other_last_index >= last_index();
}

Index RaftLog::append(pb::Entry entry) {
  entry.set_index(last_index() + 1);
  payload_bytes_ += entry.data().size();
  entries_.push_back(std::move(entry));
  return last_index();
}

void RaftLog::truncate_and_append(const pb::Entry& entry) {
  const Index index = entry.index();
  assert(index > base_index_ && index <= last_index() + 1);
  // Figure 2 only ever truncates uncommitted entries; anything else would
  // mean a second leader disagreed about committed history.
  assert(index > committed_);
  // Only applied entries lose their payloads, so everything truncated here
  // still has its own.
  assert(index >= payloads_from_);
  for (Index gone = index; gone <= last_index(); ++gone) payload_bytes_ -= at(gone).data().size();
  entries_.resize(index - base_index_ - 1);
  payload_bytes_ += entry.data().size();
  entries_.push_back(entry);
  stable_ = std::min(stable_, index - 1);
}

Index RaftLog::first_index_of_term_run(Index index) const {
  const std::optional<Term> term = term_at(index);
  assert(term.has_value());
  while (index > first_index() && term_at(index - 1) == term) --index;
  return index;
}

std::optional<Index> RaftLog::last_index_of_term(Term term) const {
  for (Index index = last_index(); index > base_index_; --index) {
    const Term existing = at(index).term();
    if (existing == term) return index;
    if (existing < term) break;  // terms only grow along the log
  }
  if (term == base_term_ && base_index_ > 0) return base_index_;
  return std::nullopt;
}

std::vector<pb::Entry> RaftLog::slice(Index from, std::size_t max_entries, std::size_t max_bytes) const {
  std::vector<pb::Entry> result;
  std::size_t bytes = 0;
  for (Index index = from; index <= last_index() && result.size() < max_entries; ++index) {
    const pb::Entry& entry = at(index);
    bytes += index < payloads_from_ ? dropped_sizes_[index - first_index()] : entry.data().size();
    if (!result.empty() && bytes > max_bytes) break;
    result.push_back(entry);
  }
  return result;
}

void RaftLog::commit_to(Index index) {
  assert(index <= last_index());
  if (index > committed_) committed_ = index;
}

std::vector<pb::Entry> RaftLog::unstable_entries() const {
  return std::vector<pb::Entry>(entries_.begin() + static_cast<std::ptrdiff_t>(stable_ - base_index_),
                                entries_.end());
}

void RaftLog::mark_stable(Index index) {
  assert(index <= last_index());
  stable_ = std::max(stable_, index);
  release_payloads();
}

std::vector<pb::Entry> RaftLog::entries_to_apply(std::size_t max_bytes) const {
  return slice(applied_ + 1, committed_ - applied_, max_bytes);
}

void RaftLog::mark_applied(Index index) {
  assert(index <= committed_);
  applied_ = std::max(applied_, index);
  release_payloads();
}

void RaftLog::limit_payload_bytes(std::size_t bytes) {
  payload_limit_ = bytes;
  release_payloads();
}

void RaftLog::release_payloads() {
  // Oldest first, and only what storage holds and the state machine has:
  // nothing the driver still has to persist or apply loses its payload.
  const Index releasable = std::min(applied_, stable_);
  while (payload_bytes_ > payload_limit_ && payloads_from_ <= releasable) {
    pb::Entry& entry = entries_[payloads_from_ - base_index_ - 1];
    const std::size_t size = entry.data().size();
    dropped_sizes_.push_back(static_cast<std::uint32_t>(size));
    payload_bytes_ -= size;
    entry.clear_data();
    std::string().swap(*entry.mutable_data());  // give the memory back, not just the length
    ++payloads_from_;
  }
}

void RaftLog::compact(Index index) {
  if (index <= base_index_) return;
  assert(index <= applied_ && index <= stable_);
  base_term_ = at(index).term();
  for (Index gone = std::max(payloads_from_, first_index()); gone <= index; ++gone) {
    payload_bytes_ -= at(gone).data().size();
  }
  const std::size_t dropped_gone = std::min<std::size_t>(dropped_sizes_.size(), index - base_index_);
  dropped_sizes_.erase(dropped_sizes_.begin(),
                       dropped_sizes_.begin() + static_cast<std::ptrdiff_t>(dropped_gone));
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(index - base_index_));
  base_index_ = index;
  payloads_from_ = std::max(payloads_from_, index + 1);
}

void RaftLog::restore(Index index, Term term) {
  assert(index > committed_);
  entries_.clear();
  dropped_sizes_.clear();
  payload_bytes_ = 0;
  payloads_from_ = index + 1;
  base_index_ = index;
  base_term_ = term;
  committed_ = applied_ = stable_ = index;
}

}  // namespace raft
