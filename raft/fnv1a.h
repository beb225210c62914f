#pragma once
// 64-bit FNV-1a: a small, stable, non-cryptographic hash. Used where the
// same bytes must give the same number on every machine and in every
// release (a cluster id from a token, a digest of a member's state), and
// nobody is trying to forge a collision.

#include <cstdint>
#include <string_view>

namespace raft {

class Fnv1a64 {
 public:
  void add(std::string_view bytes) {
    for (const unsigned char byte : bytes) {
      value_ ^= byte;
      value_ *= 1099511628211ull;
    }
  }
  std::uint64_t value() const { return value_; }

 private:
  std::uint64_t value_ = 14695981039346656037ull;
};

}  // namespace raft
