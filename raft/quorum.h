#pragma once
// Majority arithmetic, kept apart from the protocol so it can be tested alone.

#include <algorithm>
#include <cstddef>
#include <functional>
#include <vector>

#include "raft/types.h"

namespace raft {

inline std::size_t majority(std::size_t voters) {
  return voters / 2 + 1;
}

// The highest index that a majority of voters hold: with the match indices
// sorted from high to low, the one at position voters/2.
inline Index majority_match_index(std::vector<Index> match_indices) {
  if (match_indices.empty()) return 0;
  const auto middle = match_indices.begin() + static_cast<std::ptrdiff_t>(match_indices.size() / 2);
  std::nth_element(match_indices.begin(), middle, match_indices.end(), std::greater<>());
  return *middle;
}

enum class VoteOutcome { kPending, kWon, kLost };

inline VoteOutcome tally_votes(std::size_t granted, std::size_t rejected, std::size_t voters) {
  if (granted >= majority(voters)) return VoteOutcome::kWon;
  // Lost as soon as the remaining voters could no longer make a majority.
  if (rejected > voters - majority(voters)) return VoteOutcome::kLost;
  return VoteOutcome::kPending;
}

}  // namespace raft
