#pragma once
// A history of key-value operations as clients saw them: what each asked,
// when it asked (invoke), when it heard back (complete) and what it heard.
// The linearizability checker reads it; the fault harness and the
// simulation write it.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace raftkv::checker {

enum class OpKind {
  kRead,   // value of key
  kWrite,  // key = value
  kCas,    // if key == expected then key = value
};

enum class Outcome {
  kOk,       // took effect, with the result recorded
  kFailed,   // certainly did not take effect (e.g. INVALID_ARGUMENT, or
             // UNAVAILABLE from a member that never proposed it)
  kUnknown,  // timed out or failed ambiguously: it may have taken effect,
             // and may yet, at any later time
};

struct Operation {
  std::uint64_t id = 0;
  std::uint64_t client = 0;
  OpKind kind = OpKind::kRead;
  std::string key;
  std::optional<std::string> value;     // write/cas: the value written
  std::optional<std::string> expected;  // cas: the value compared against (nullopt: absent)
  std::int64_t invoke = 0;              // any monotonic clock, the same for every client
  std::int64_t complete = 0;
  Outcome outcome = Outcome::kUnknown;
  // What an ok read saw (nullopt: the key was absent); whether an ok cas
  // swapped (false: its compare failed and nothing was written).
  std::optional<std::string> observed;
  bool swapped = false;
};

using History = std::vector<Operation>;

// One line per operation, for files a person reads:
//   #12 c3 [1200,1450] cas(k1, "a" -> "b") ok swapped
std::string describe(const Operation& operation);

}  // namespace raftkv::checker
