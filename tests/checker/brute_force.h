#pragma once
// The definition of linearizability for one register, searched by brute
// force: the reference the real checker is compared with on small
// histories. It shares no code with linearizability.cc and makes no
// assumption about values being unique.
//
// An operation that completed ok took effect at one instant between its
// invocation and its completion; one of unknown outcome at one instant
// after its invocation, or never; a failed one never; a read of unknown
// outcome observed nothing. The history is linearizable when some of the
// unknown operations and all the ok ones can be put in one order in which
// an operation that completed before another was invoked comes first and
// each result is what the register gives.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/checker/history.h"

namespace raftkv::checker {

class BruteForceRegister {
 public:
  // `ops`: one key's operations; at most 20.
  explicit BruteForceRegister(std::vector<Operation> ops) {
    for (Operation& op : ops) {
      if (op.outcome == Outcome::kFailed) continue;
      if (op.kind == OpKind::kRead && op.outcome == Outcome::kUnknown) continue;
      ops_.push_back(std::move(op));
    }
  }

  bool linearizable() { return search(0, std::nullopt); }

 private:
  using State = std::optional<std::string>;

  bool must_come_first(const Operation& before, const Operation& after) const {
    return before.outcome == Outcome::kOk && before.complete < after.invoke;
  }

  // The register's result for `op` in `state`: whether it can happen, and
  // the state after it.
  static bool apply(const Operation& op, State& state) {
    switch (op.kind) {
      case OpKind::kRead: return op.observed == state;
      case OpKind::kWrite: state = op.value; return true;
      case OpKind::kCas:
        if (op.outcome == Outcome::kUnknown || op.swapped) {
          if (state != op.expected) return op.outcome == Outcome::kUnknown;  // unknown: a compare that failed
          state = op.value;
          return true;
        }
        return state != op.expected;
    }
    return false;
  }

  bool search(std::uint32_t placed, const State& state) {
    bool every_ok_placed = true;
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if ((placed >> i & 1) == 0 && ops_[i].outcome == Outcome::kOk) every_ok_placed = false;
    }
    if (every_ok_placed) return true;  // the unknown ones left never happened
    if (!dead_ends_.insert({placed, state}).second) return false;
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if ((placed >> i & 1) != 0) continue;
      bool ready = true;
      for (std::size_t j = 0; j < ops_.size() && ready; ++j) {
        if ((placed >> j & 1) == 0 && j != i && must_come_first(ops_[j], ops_[i])) ready = false;
      }
      State next = state;
      if (ready && apply(ops_[i], next) && search(placed | 1u << i, next)) return true;
    }
    return false;
  }

  std::vector<Operation> ops_;
  std::set<std::pair<std::uint32_t, State>> dead_ends_;
};

}  // namespace raftkv::checker
