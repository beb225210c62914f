#include "daemon/credentials.h"

#include <grpcpp/grpcpp.h>

#include <sstream>

#include "raft/tls_credentials.h"

namespace raftkv {

raft::Result<DaemonCredentials> load_daemon_credentials(const DaemonConfig& config) {
  DaemonCredentials credentials;
  credentials.client_endpoint = grpc::InsecureServerCredentials();
  credentials.forwarding = grpc::InsecureChannelCredentials();
  if (!config.cert_file.empty()) {
    auto material = raft::load_tls_material({config.cert_file, config.key_file, config.trusted_ca_file},
                                            "client TLS", raft::ChainCheck::kNone);
    if (!material.ok()) return material.error();
    credentials.client_endpoint = raft::tls_server_credentials(
        material.value(), config.client_cert_auth ? raft::ClientCertificates::kRequired
                                                  : raft::ClientCertificates::kNotRequested);
    // A member forwarding to the leader is a client of it: it presents its
    // own certificate (which therefore needs the clientAuth usage when
    // --client-cert-auth is on) and checks the leader's against the trusted
    // CA -- or the system's roots, without one.
    credentials.forwarding = raft::tls_channel_credentials(material.value());
    credentials.client_tls = true;
  }
  if (!config.peer_cert_file.empty()) {
    auto material =
        raft::load_tls_material({config.peer_cert_file, config.peer_key_file, config.peer_trusted_ca_file},
                                "peer TLS", raft::ChainCheck::kToTheCa);
    if (!material.ok()) return material.error();
    credentials.peer_endpoint =
        raft::tls_server_credentials(material.value(), raft::ClientCertificates::kRequired);
    credentials.peer_dialling = raft::tls_channel_credentials(material.value());
    credentials.peer_tls = true;
    std::istringstream names(config.peer_cert_allowed_names);
    for (std::string name; std::getline(names, name, ',');) {
      const auto first = name.find_first_not_of(' ');
      if (first != std::string::npos)
        credentials.allowed_peer_names.insert(name.substr(first, name.find_last_not_of(' ') - first + 1));
    }
  }
  return credentials;
}

}  // namespace raftkv
