#pragma once
// The gRPC credentials raftkvd's four kinds of connection use, from its TLS
// options: the client endpoint, the peer endpoint, dialling peers, and
// dialling another member's client endpoint to forward a request to the
// leader. Without TLS options, each is plaintext.

#include <memory>
#include <set>
#include <string>

#include "daemon/config.h"
#include "raft/result.h"

namespace grpc {
class ChannelCredentials;
class ServerCredentials;
}  // namespace grpc

namespace raftkv {

struct DaemonCredentials {
  std::shared_ptr<grpc::ServerCredentials> client_endpoint;
  std::shared_ptr<grpc::ChannelCredentials> forwarding;
  std::shared_ptr<grpc::ServerCredentials> peer_endpoint;
  std::shared_ptr<grpc::ChannelCredentials> peer_dialling;
  std::set<std::string> allowed_peer_names;
  bool client_tls = false;
  bool peer_tls = false;
};

// Reads and checks the files the options name; an error names the file and
// what is wrong with it.
raft::Result<DaemonCredentials> load_daemon_credentials(const DaemonConfig& config);

}  // namespace raftkv
