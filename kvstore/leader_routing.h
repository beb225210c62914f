#pragma once
// How a member's client services (KV and Admin) route a request around the
// leader: they wait a little for one when an election is under way, and
// mark what they forward to it, so that a forwarded request is never
// forwarded again (two members that disagree about the leader must not
// bounce it forever).

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "raft/server.h"

namespace kv {

inline constexpr char kForwardedHeader[] = "raftkv-forwarded";

inline bool forwarded(const grpc::ServerContextBase* context) {
  return context->client_metadata().count(kForwardedHeader) > 0;
}

// Marks `client` as a forwarded request.
inline void mark_forwarded(grpc::ClientContext& client) {
  client.AddMetadata(kForwardedHeader, "1");
}

// Whether a forward that failed never reached the leader: gRPC fails a call
// at its pick of a connection, before sending a byte, when it could connect
// to none of the channel's addresses (a leader killed moments ago, whose
// followers have not yet noticed). Any other UNAVAILABLE may have come after
// the leader received the request.
inline bool failed_before_sending(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE &&
         status.error_message().starts_with("failed to connect to all addresses");
}

// `server`'s status once it knows a leader, or once `wait` or `deadline`,
// whichever comes first, has passed without one.
inline raft::ServerStatus status_with_leader(const raft::Server& server,
                                             std::chrono::system_clock::time_point deadline,
                                             std::chrono::milliseconds wait) {
  const raft::ServerStatus status = server.status();
  if (status.leader != raft::kNoNode) return status;
  const auto longest = std::min(deadline - std::chrono::system_clock::now(),
                                std::chrono::duration_cast<std::chrono::system_clock::duration>(wait));
  server.wait_for_leader(std::chrono::steady_clock::now() + longest);
  return server.status();
}

// The client address `member` was added with (Admin MemberAdd), from the
// configuration in force at `server`; "" when it has none. For members that
// discovery, which knows the founders, does not list.
inline std::string configured_client_address(const raft::Server& server, raft::NodeId member) {
  const std::shared_ptr<const raft::pb::Configuration> configuration = server.status().configuration;
  const raft::pb::Member* known = configuration ? raft::find_member(*configuration, member) : nullptr;
  return known == nullptr ? std::string() : known->client_address();
}

}  // namespace kv
