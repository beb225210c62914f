#pragma once
// Errors as values: callers of the library must handle them, and they cross
// threads inside futures, where exceptions would be awkward.

#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include "raft/types.h"

namespace raft {

enum class ErrorCode {
  kNotLeader,           // leader_hint names the leader when it is known
  kLeadershipTransfer,  // the leader is handing over and refuses new work
  kProposalDropped,     // the entry was overwritten by another leader's
  kTimeout,             // no answer in time; the outcome may still happen
  kStopped,             // the server is shutting down; the outcome is unknown
  kInvalidArgument,
  kFailedPrecondition,  // a valid request the cluster's state does not allow now
  kStorage,             // the disk failed; the node cannot go on safely
  kOverloaded,          // refused before it was proposed: too much is waiting already
  kExpired,             // its deadline passed before it was proposed; it never will be
};

std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;
  NodeId leader_hint = kNoNode;

  std::string to_string() const;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(state_); }
  const T& value() const& {
    assert(ok());
    return std::get<T>(state_);
  }
  // By value, so that `for (x : f().value())` does not dangle.
  T value() && {
    assert(ok());
    return std::get<T>(std::move(state_));
  }
  const Error& error() const {
    assert(!ok());
    return std::get<Error>(state_);
  }

 private:
  std::variant<T, Error> state_;
};

// The result of an operation that returns nothing but may fail.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  bool ok() const { return !failed_; }
  const Error& error() const {
    assert(failed_);
    return error_;
  }

 private:
  Error error_{ErrorCode::kInvalidArgument, {}};
  bool failed_ = false;
};

}  // namespace raft
