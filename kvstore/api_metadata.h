#pragma once
// gRPC metadata of the client API that clients act on (docs/api.md).

namespace kv {

// Trailing metadata on an UNAVAILABLE write that certainly did not apply:
// the member refused it before proposing it, or another leader's entry
// replaced it. A write refused without it may or may not have applied, so
// only with it may a client retry a write that has no session.
inline constexpr char kNotAppliedTrailer[] = "raftkv-not-applied";

}  // namespace kv
