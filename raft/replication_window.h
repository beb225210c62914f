#pragma once
// The bounded window of AppendEntries a leader has in flight to one follower
// (the "pipeline" of dissertation §10.2.2). Each slot remembers the last index
// a message carried; an acknowledgement up to index i frees every slot <= i.

#include <cstddef>
#include <deque>

#include "raft/types.h"

namespace raft {

class ReplicationWindow {
 public:
  explicit ReplicationWindow(std::size_t capacity) : capacity_(capacity) {}

  bool full() const { return in_flight_.size() >= capacity_; }
  bool empty() const { return in_flight_.empty(); }
  std::size_t size() const { return in_flight_.size(); }
  std::size_t capacity() const { return capacity_; }

  void add(Index last_index) { in_flight_.push_back(last_index); }

  void free_up_to(Index index) {
    while (!in_flight_.empty() && in_flight_.front() <= index) in_flight_.pop_front();
  }

  void clear() { in_flight_.clear(); }

 private:
  std::size_t capacity_;
  std::deque<Index> in_flight_;
};

}  // namespace raft
