#pragma once
// The name of a gRPC status code ("UNAVAILABLE"), as kvctl prints it in its
// one-line errors and bench error counts, as the metrics label calls, and as
// the peer transport logs a stream's end.

#include <grpcpp/grpcpp.h>

namespace raft {

inline const char* status_code_name(grpc::StatusCode code) {
  static const char* const kNames[] = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  return index >= 0 && index <= 16 ? kNames[index] : "ERROR";
}

}  // namespace raft
