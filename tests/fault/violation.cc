#include "tests/fault/violation.h"

namespace raftkv::fault {

std::string stale_read_proof_problem(const std::vector<Violation>& violations,
                                     const checker::Verdict& verdict) {
  for (const Violation& violation : violations) {
    if (violation.check != Check::kLinearizable)
      return "the run failed for another reason: " + violation.what;
  }
  for (const checker::KeyVerdict& key : verdict.keys) {
    if (!key.linearizable && !key.gave_up && key.culprit && key.culprit->kind == checker::OpKind::kRead)
      return "";
  }
  return "the checker proved no stale read (no key's history fails at a read)";
}

}  // namespace raftkv::fault
