#include "raft/follower_progress.h"

namespace raft {

std::string_view to_string(ReplicationMode mode) {
  switch (mode) {
    case ReplicationMode::kProbe: return "probe";
    case ReplicationMode::kReplicate: return "replicate";
    case ReplicationMode::kSnapshot: return "snapshot";
  }
  return "unknown";
}

}  // namespace raft
