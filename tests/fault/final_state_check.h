#pragma once
// The fault harness's durability check: after every fault has healed and
// each key was read once more, no acknowledged write may be missing from
// the final state unless a later write replaced it.
//
// Values are unique per write, so the final value names its write F. An
// acknowledged write W of another value is lost when F completed before W
// was invoked (W must then come after F, so something after W must have
// replaced it -- but the key ends with F's value). A key that ends absent
// after an acknowledged write (the workload never deletes), or with a
// value nobody wrote to it, is lost data too.
//
// The linearizability check implies all of this; this one says it in the
// words of the promise ("acknowledged write #812 is lost"), and runs even
// when the checker gives up.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/checker/history.h"

namespace raftkv::fault {

struct LostWrite {
  std::string key;
  std::string what;  // one line
};

// `finals`: each key's value at the end (nullopt: absent).
std::vector<LostWrite> find_lost_writes(const checker::History& history,
                                        const std::map<std::string, std::optional<std::string>>& finals);

}  // namespace raftkv::fault
