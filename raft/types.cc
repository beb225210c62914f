#include "raft/types.h"

#include "raft/result.h"

namespace raft {

std::string_view to_string(Role role) {
  switch (role) {
    case Role::kFollower: return "follower";
    case Role::kPreCandidate: return "pre-candidate";
    case Role::kCandidate: return "candidate";
    case Role::kLeader: return "leader";
  }
  return "unknown";
}

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotLeader: return "not leader";
    case ErrorCode::kLeadershipTransfer: return "leadership transfer in progress";
    case ErrorCode::kProposalDropped: return "proposal dropped";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kStopped: return "stopped";
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kFailedPrecondition: return "refused";
    case ErrorCode::kStorage: return "storage failure";
    case ErrorCode::kOverloaded: return "overloaded";
    case ErrorCode::kExpired: return "expired";
  }
  return "unknown";
}

std::string Error::to_string() const {
  std::string text(raft::to_string(code));
  if (!message.empty()) text += ": " + message;
  if (leader_hint != kNoNode) text += " (leader is node " + std::to_string(leader_hint) + ")";
  return text;
}

}  // namespace raft
