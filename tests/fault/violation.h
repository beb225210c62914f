#pragma once
// What a fault run found wrong, each with the check that found it, so that
// a run that must fail (the known-bad control) can be held to failing for
// its own reason and no other.

#include <string>
#include <vector>

#include "tests/checker/linearizability.h"

namespace raftkv::fault {

enum class Check {
  kStart,            // the new cluster acknowledged a write
  kRecovery,         // a write was acknowledged soon after every heal
  kMemberExited,     // no member exited (or refused to start) by itself
  kFinalRead,        // every key could be read once everything healed
  kStates,           // the members reached one applied index and one digest
  kLostWrite,        // no acknowledged write is missing from the final state
  kLinearizable,     // the checker proved a key's history linearizable
  kCheckerComplete,  // the checker reached a verdict on every key
  kMembership,       // each step of the membership scenario succeeded
  kCoverage,         // the run exercised log compaction and InstallSnapshot
};

struct Violation {
  Check check;
  std::string what;  // one line, for a person
};

// The known-bad control runs clients that read serializably, from any
// member's own state. It has shown what it exists to show only when the
// checker proved a stale read -- some key not linearizable, with a read as
// the operation no order can place -- and nothing else went wrong: a
// cluster that never started, a checker that gave up or a lost write would
// make it "fail" without proving anything about stale reads. Returns ""
// when the run is that proof, else why it is not.
std::string stale_read_proof_problem(const std::vector<Violation>& violations,
                                     const checker::Verdict& verdict);

}  // namespace raftkv::fault
