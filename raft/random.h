#pragma once
// A small deterministic pseudo-random generator (SplitMix64). The core draws
// its randomized election timeouts from it so that a run is a pure function
// of its seed; std::mt19937 would do too, but this is cheaper to copy and its
// output is identical on every platform and standard library.

#include <cstdint>

namespace raft {

class DeterministicRandom {
 public:
  explicit DeterministicRandom(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [low, high). Requires low < high.
  std::uint64_t uniform(std::uint64_t low, std::uint64_t high) { return low + next() % (high - low); }

  // True with the given probability in [0, 1].
  bool chance(double probability) { return static_cast<double>(next() >> 11) * 0x1.0p-53 < probability; }

 private:
  std::uint64_t state_;
};

}  // namespace raft
