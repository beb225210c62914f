#pragma once
// Linearizability of one register with reads and writes only, every write
// of a value of its own, in O(n log n): Gibbons and Korach's zones. Each
// write and the reads that saw its value form a cluster; a cluster's zone
// runs between the earliest completion and the latest invocation among its
// operations -- "forward" when some operation of the cluster completed
// before another began, "backward" otherwise. The history is linearizable
// exactly when every read saw a value some write wrote, no read completed
// before its write began, no two forward zones overlap and no backward zone
// lies inside a forward one. (The initial "absent" value is a cluster
// whose write happened before everything.)
//
// linearizability.cc uses it for keys without CAS; the exhaustive search
// stays the reference (the tests compare the two on random histories).

#include <optional>
#include <string>
#include <vector>

#include "tests/checker/history.h"

namespace raftkv::checker {

struct ZoneViolation {
  Operation culprit;   // an operation no order can place
  std::string reason;  // why, naming the clusters involved
};

// `ops`: one key's definite reads and writes (no CAS, no unknown outcome),
// write values unique.
std::optional<ZoneViolation> find_zone_violation(const std::vector<Operation>& ops);

}  // namespace raftkv::checker
