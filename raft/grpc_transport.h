#pragma once
// raft::Transport over gRPC: the RaftPeer service of proto/raft.proto.
//
// Each node serves RaftPeer on its peer address and keeps one long-lived
// client stream to each peer, over which it sends every message for that
// peer in order -- no connection or RPC is set up per message; answers come
// back on the peer's own stream to us. Both directions run on gRPC's
// callback API, so no thread is kept per peer or per stream: send() starts
// a write on the caller's thread when the stream is idle, and otherwise
// queues the message (bounded; the oldest is dropped first) for the write's
// completion to start. When a stream breaks, the message whose write failed
// goes first on the next one (once: failing twice, it is dropped), which
// opens after an exponential back-off with jitter; what the bound drops
// meanwhile Raft resends as it needs.
//
// Limits: messages larger than options.max_message_bytes are dropped at the
// sender (and refused by the receiver). A connection attempt gives up after
// options.connect_timeout; HTTP/2 keepalive pings find a dead peer within
// options.keepalive_timeout even while a write is blocked on it.
//
// A peer whose address is empty (not discovered yet) gets no stream; its
// messages are dropped until set_peers() names an address, and a changed
// address replaces the stream.
//
// Security: with options.server_credentials and channel_credentials from
// raft/tls_credentials.h, peers talk mutual TLS -- a peer whose certificate
// the cluster CA did not sign fails the handshake -- and with
// options.allowed_peer_names only certificates carrying one of those names
// (common name or subject alternative name) may open a stream; others are
// refused with PERMISSION_DENIED. Without credentials the transport is
// plaintext.
//
// Incoming messages are checked before the core sees them: bytes that are
// no raft.pb.Message, or a message that carries another cluster's id, comes
// from a node that is not a member or is addressed to another node, are
// refused -- the stream is ended with PERMISSION_DENIED or INVALID_ARGUMENT
// and the refusal logged. Any other method on the peer port is answered
// UNIMPLEMENTED with a message saying what the port is.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>

#include "raft/result.h"
#include "raft/transport.h"

namespace grpc {
class AuthContext;
class ChannelCredentials;
class Server;
class ServerCredentials;
}  // namespace grpc

namespace raft {

class UnknownMethodService;

struct GrpcTransportOptions {
  std::uint64_t cluster_id = 0;
  // Where this node serves RaftPeer ("host:port"; port 0 picks a free one,
  // see listening_port()).
  std::string listen_address;
  std::size_t max_message_bytes = 16 << 20;
  std::size_t max_queued_messages = 4096;  // per peer
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds min_backoff{50};
  std::chrono::milliseconds max_backoff{2000};
  std::chrono::milliseconds keepalive_interval{1000};
  std::chrono::milliseconds keepalive_timeout{2000};
  // Called (from one of gRPC's threads) each time a peer cannot be reached at its
  // address, so that discovery can look again (Discovery::unreachable).
  std::function<void(NodeId)> on_unreachable;
  // TLS; null: plaintext. Both or neither.
  std::shared_ptr<grpc::ServerCredentials> server_credentials;
  std::shared_ptr<grpc::ChannelCredentials> channel_credentials;
  // Empty: any certificate the CA signed.
  std::set<std::string> allowed_peer_names;
};

struct GrpcTransportCounters {
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t dropped = 0;  // queue overflow, oversized, or no such peer
  std::uint64_t refused = 0;  // incoming: wrong cluster, non-member, misaddressed, name not allowed
  std::uint64_t reconnects = 0;
  std::uint64_t incoming_streams = 0;  // streams peers opened to this node
};

class GrpcTransport final : public Transport {
 public:
  explicit GrpcTransport(GrpcTransportOptions options);
  ~GrpcTransport() override;

  // Binds the listening address now, so that a bad or busy address is
  // reported at start-up (and port 0 resolved) before Raft starts.
  Status listen();
  int listening_port() const { return listening_port_; }

  void start(NodeId self, Receiver receiver) override;
  void set_peers(const std::vector<Peer>& peers) override;
  void set_removed(const std::vector<NodeId>& removed) override;
  void send(pb::Message message) override;
  void stop() override;

  GrpcTransportCounters counters() const;

 private:
  class IncomingStream;
  class PeerService;
  class PeerStream;

  // Why an incoming message is refused; nullopt accepts it.
  struct Refusal {
    bool misaddressed = false;  // to another node (else: not of this cluster)
    bool removed = false;       // from a node removed from the cluster
    std::string reason;
  };
  std::optional<Refusal> check_incoming(const pb::Message& message);
  // Why a stream from a peer with this authentication is refused (its
  // certificate has none of options.allowed_peer_names); nullopt accepts it.
  std::optional<std::string> check_peer_names(const grpc::AuthContext& context) const;
  // Under peers_mutex_: opens streams to new or moved peers; returns the
  // streams it replaced, to be stopped once the lock is released (a
  // stopping stream may wait out a connection attempt).
  std::vector<std::unique_ptr<PeerStream>> connect_peers();
  void deliver(pb::Message message);
  // A peer refused this node's stream because it was removed: see
  // Transport::set_removed().
  void told_removed_by(NodeId peer);

  const GrpcTransportOptions options_;
  std::unique_ptr<PeerService> service_;
  std::unique_ptr<UnknownMethodService> unknown_method_;  // calls to any other method
  std::unique_ptr<grpc::Server> server_;
  int listening_port_ = 0;

  // The receiver is called under the shared lock; stop() takes it
  // exclusively, so that once stop() returns it is never called again.
  std::shared_mutex receiver_mutex_;
  Receiver receiver_;
  std::atomic<NodeId> self_{kNoNode};
  bool running_ = false;

  mutable std::mutex peers_mutex_;
  std::vector<Peer> peers_;
  std::set<NodeId> members_;
  std::set<NodeId> removed_;
  std::map<NodeId, std::unique_ptr<PeerStream>> streams_;
  bool stopped_ = false;

  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> reconnects_{0};
  std::atomic<std::uint64_t> incoming_streams_{0};
};

}  // namespace raft
