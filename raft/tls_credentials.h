#pragma once
// TLS for raftkv's gRPC endpoints: a certificate, its private key and the CA
// that signs the other side's certificates, loaded from PEM files and
// checked up front, so that a wrong file is one clear message at start-up
// rather than every handshake failing later with gRPC's logs as the only
// clue.
//
// The peer transport always uses mutual TLS (both sides present a
// certificate the cluster CA signed); the client endpoint may require a
// client certificate or not. Names are checked by gRPC against the address a
// channel dials (so a member's certificate must name its address, e.g. an IP
// SAN 127.0.0.1); allowed_names() narrows which certificates the CA signed
// are let in.

#include <memory>
#include <set>
#include <string>

#include "raft/result.h"

namespace grpc {
class AuthContext;
class ChannelCredentials;
class ServerCredentials;
}  // namespace grpc

namespace raft {

struct TlsFiles {
  std::string cert_file;  // PEM: this side's certificate (and its chain)
  std::string key_file;   // PEM: its private key
  std::string ca_file;    // PEM: the CA certificate(s) the other side's must chain to

  bool empty() const { return cert_file.empty() && key_file.empty() && ca_file.empty(); }
};

// The files' contents, checked: the certificate parses, is valid now,
// matches the key, and (ChainCheck::kToTheCa) chains to the CA.
struct TlsMaterial {
  std::string cert_pem;  // empty: present none
  std::string key_pem;
  std::string ca_pem;  // empty: verify the other side against the system's roots
};

enum class ChainCheck {
  // The peers' case: one cluster CA signs every member's certificate and
  // verifies the others', so a certificate it did not sign is a mistake.
  kToTheCa,
  // The client endpoint's case: the CA (optional) verifies clients, and the
  // member's own certificate may come from another (a public) CA.
  kNone,
};

// `what` names the endpoint in messages ("peer TLS", "client TLS").
// Needs cert_file and key_file, except that with ChainCheck::kNone a CA
// alone is enough (a client that only verifies the server); ca_file is
// optional with ChainCheck::kNone.
Result<TlsMaterial> load_tls_material(const TlsFiles& files, const std::string& what, ChainCheck chain_check);

enum class ClientCertificates {
  kNotRequested,  // anyone may connect (the channel is still encrypted)
  kRequired,      // a certificate that chains to the CA, or the handshake fails
};

std::shared_ptr<grpc::ServerCredentials> tls_server_credentials(const TlsMaterial& material,
                                                                ClientCertificates client_certificates);

// Presents the certificate (when there is one) and verifies the server's
// against the CA.
std::shared_ptr<grpc::ChannelCredentials> tls_channel_credentials(const TlsMaterial& material);

// The names an authenticated peer's certificate carries: its subject
// alternative names and its common name. Empty without TLS.
std::set<std::string> certificate_names(const grpc::AuthContext& context);

}  // namespace raft
