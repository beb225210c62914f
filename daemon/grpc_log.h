#pragma once
// gRPC's own log lines, written through raftkvd's log (spdlog) instead of
// straight to stderr in gRPC's format, so that the log has one format and
// one place. The lines an operator most needs are said in words: a client
// or peer whose TLS handshake was refused (no certificate, or one the
// trusted CA did not sign, or no TLS at all), with what to check.
//
// gRPC 1.51 reports a refused handshake without the peer's address, and
// offers no hook that sees both (the handshake fails before any call, or
// any application code, exists); so these lines cannot name the client.

namespace raftkv {

// Installs the routing for the whole process (gRPC's logging is global).
void route_grpc_log_to_spdlog();

}  // namespace raftkv
