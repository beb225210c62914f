#pragma once
// Basic vocabulary of the Raft library.

#include <cstdint>
#include <string_view>

#include "proto/raft.pb.h"

namespace raft {

using NodeId = std::uint64_t;
using Term = std::uint64_t;
using Index = std::uint64_t;

// Node ids start at 1; 0 means "nobody" (no vote cast, no known leader).
inline constexpr NodeId kNoNode = 0;

enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };

std::string_view to_string(Role role);

}  // namespace raft
