#pragma once
// A linearizability checker for key-value histories (Herlihy & Wing): is
// there one order of the operations, consistent with real time (an
// operation that completed before another was invoked comes first), in
// which every result is what a single register per key would give?
//
// The search is Wing & Gong's, with Lowe's memoisation of (operations
// linearized, register state) -- the approach of Porcupine and Knossos -- run
// per key, since keys are independent registers. Operations whose outcome is
// unknown may take effect at any time after their invocation, or never
// (which, for a register, is the same as taking effect after everything
// else): they complete at +infinity. Operations that certainly failed, and
// reads with unknown outcome, change nothing and are left out.
//
// Unknown outcomes are what make the search explode (each may stay pending
// to the end), so two reductions come first, both exact when every write
// writes a value of its own (the harness and the simulation make them so):
// - a write or CAS whose value somebody observed (an ok read of it, a CAS
//   that swapped on it) took effect before that observer completed: its
//   completion is moved there if later (for an unknown one, from infinity);
// - one whose value nobody reads or compares against is left out. A
//   linearization without it is one with it placed last, so "linearizable"
//   stays exact; if the reduced history is not, the search runs again with
//   them (such a write could explain a CAS whose compare failed).
// And any write whose value nobody reads or compares against (a "blank")
// only ever sets the register to "not what anyone expects": blanks are
// interchangeable but for their deadlines, so of those that could go next
// the search tries only the one due first. Without this, every long
// unobserved write (one held up by a partition) would double the states.
//
// Keys without CAS are decided exactly and fast by Gibbons and Korach's
// zones instead (register_zones.h); the search is for keys with CAS.
//
// A violation names the key, the operation that no order can explain, and
// the longest explainable prefix before it (or, from the zones, the two
// values whose reads could not be ordered), so that a person can see why.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/checker/history.h"

namespace raftkv::checker {

struct KeyVerdict {
  std::string key;
  std::size_t operations = 0;  // taken into account
  bool linearizable = true;    // proven; false when violated or gave up
  bool gave_up = false;        // the search hit its step budget: no verdict
  // When not linearizable: the operation that could not be placed after
  // the longest linearizable prefix found, that prefix (in order) and the
  // register's value after it.
  std::optional<Operation> culprit;
  std::vector<Operation> prefix;
  std::optional<std::string> state_after_prefix;
  std::string reason;  // from the zone check, which finds no prefix
};

struct Verdict {
  bool linearizable = true;  // every key proven linearizable
  bool complete = true;      // no key gave up
  std::vector<KeyVerdict> keys;
  std::uint64_t steps = 0;

  // The failing keys, each with its culprit and prefix; empty when fine.
  std::string explain() const;
};

struct CheckOptions {
  // A search that takes more steps than this for one key gives up (and says
  // so) rather than run for ever on a pathological history.
  std::uint64_t max_steps_per_key = 50'000'000;
  // Keys with reads and writes only (no CAS) are decided by the zone check
  // (register_zones.h) in O(n log n); false forces the search (tests).
  bool use_zones = true;
  // The reductions and the blanks described above; false searches every
  // operation as recorded -- exponential, for checking the reductions on
  // small histories (tests).
  bool reduce = true;
};

Verdict check_linearizable(const History& history, const CheckOptions& options = {});

}  // namespace raftkv::checker
