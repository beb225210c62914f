#include "raft/tls_credentials.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/auth_context.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

namespace raft {

namespace {

template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* pointer) const { Free(pointer); }
};
using Bio = std::unique_ptr<BIO, OpenSslDeleter<BIO, BIO_free_all>>;
using Certificate = std::unique_ptr<X509, OpenSslDeleter<X509, X509_free>>;
using PrivateKey = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using CertificateStore = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE, X509_STORE_free>>;
using StoreContext = std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX, X509_STORE_CTX_free>>;

Error invalid(const std::string& message) {
  return Error{ErrorCode::kInvalidArgument, message};
}

Result<std::string> read_pem(const std::string& path, const std::string& what) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return invalid(what + ": cannot read " + path);
  std::ostringstream contents;
  contents << file.rdbuf();
  if (contents.str().empty()) return invalid(what + ": " + path + " is empty");
  return contents.str();
}

Bio memory_bio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate in a PEM text, in order.
std::vector<Certificate> parse_certificates(const std::string& pem) {
  std::vector<Certificate> certificates;
  Bio bio = memory_bio(pem);
  while (X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    certificates.emplace_back(certificate);
  ERR_clear_error();  // the end of the text reads as an error
  return certificates;
}

// Whether the certificate's validity period covers now; else says why.
std::optional<std::string> validity_problem(X509* certificate) {
  if (X509_cmp_current_time(X509_get0_notBefore(certificate)) > 0) return "is not valid yet";
  if (X509_cmp_current_time(X509_get0_notAfter(certificate)) < 0) return "has expired";
  return std::nullopt;
}

// Whether the first certificate chains to one of the CA's, through the
// intermediates that follow it; else OpenSSL's reason.
std::optional<std::string> chain_problem(const std::vector<Certificate>& chain,
                                         const std::vector<Certificate>& authorities) {
  CertificateStore store(X509_STORE_new());
  for (const Certificate& authority : authorities) X509_STORE_add_cert(store.get(), authority.get());
  STACK_OF(X509)* intermediates = sk_X509_new_null();
  for (std::size_t i = 1; i < chain.size(); ++i) sk_X509_push(intermediates, chain[i].get());
  StoreContext context(X509_STORE_CTX_new());
  X509_STORE_CTX_init(context.get(), store.get(), chain.front().get(), intermediates);
  const bool verified = X509_verify_cert(context.get()) == 1;
  const int error = X509_STORE_CTX_get_error(context.get());
  sk_X509_free(intermediates);  // the certificates themselves belong to `chain`
  if (verified) return std::nullopt;
  return X509_verify_cert_error_string(error);
}

}  // namespace

Result<TlsMaterial> load_tls_material(const TlsFiles& files, const std::string& what,
                                      ChainCheck chain_check) {
  if (files.cert_file.empty() != files.key_file.empty())
    return invalid(what + " needs both a certificate file and a key file, or neither");
  TlsMaterial material;
  if (files.cert_file.empty()) {
    // Only verifying the other side: a client of a server that asks no
    // certificate.
    if (files.ca_file.empty() || chain_check == ChainCheck::kToTheCa)
      return invalid(what + " needs a certificate file and a key file");
    auto ca = read_pem(files.ca_file, what);
    if (!ca.ok()) return ca.error();
    if (parse_certificates(ca.value()).empty())
      return invalid(what + ": " + files.ca_file + " holds no PEM certificate");
    material.ca_pem = std::move(ca).value();
    return material;
  }
  auto cert = read_pem(files.cert_file, what);
  if (!cert.ok()) return cert.error();
  material.cert_pem = std::move(cert).value();
  auto key = read_pem(files.key_file, what);
  if (!key.ok()) return key.error();
  material.key_pem = std::move(key).value();

  const std::vector<Certificate> chain = parse_certificates(material.cert_pem);
  if (chain.empty()) return invalid(what + ": " + files.cert_file + " holds no PEM certificate");
  if (std::optional<std::string> problem = validity_problem(chain.front().get()))
    return invalid(what + ": the certificate in " + files.cert_file + " " + *problem);
  Bio key_bio = memory_bio(material.key_pem);
  PrivateKey private_key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (private_key == nullptr)
    return invalid(what + ": " + files.key_file + " holds no PEM private key (or it is encrypted)");
  if (X509_check_private_key(chain.front().get(), private_key.get()) != 1) {
    ERR_clear_error();
    return invalid(what + ": the key in " + files.key_file + " does not belong to the certificate in " +
                   files.cert_file);
  }

  if (files.ca_file.empty()) {
    if (chain_check == ChainCheck::kToTheCa) return invalid(what + " needs a CA file");
    return material;
  }
  auto ca = read_pem(files.ca_file, what);
  if (!ca.ok()) return ca.error();
  material.ca_pem = std::move(ca).value();
  const std::vector<Certificate> authorities = parse_certificates(material.ca_pem);
  if (authorities.empty()) return invalid(what + ": " + files.ca_file + " holds no PEM certificate");
  if (chain_check == ChainCheck::kToTheCa) {
    if (std::optional<std::string> problem = chain_problem(chain, authorities)) {
      return invalid(what + ": the certificate in " + files.cert_file + " is not signed by the CA in " +
                     files.ca_file + " (" + *problem + ")");
    }
  }
  return material;
}

std::shared_ptr<grpc::ServerCredentials> tls_server_credentials(const TlsMaterial& material,
                                                                ClientCertificates client_certificates) {
  grpc::SslServerCredentialsOptions options(client_certificates == ClientCertificates::kRequired
                                                ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                                : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_root_certs = material.ca_pem;
  options.pem_key_cert_pairs.push_back({material.key_pem, material.cert_pem});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> tls_channel_credentials(const TlsMaterial& material) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = material.ca_pem;
  options.pem_private_key = material.key_pem;
  options.pem_cert_chain = material.cert_pem;
  return grpc::SslCredentials(options);
}

std::set<std::string> certificate_names(const grpc::AuthContext& context) {
  std::set<std::string> names;
  for (const char* property : {"x509_common_name", "x509_subject_alternative_name", "peer_dns"}) {
    for (const grpc::string_ref& value : context.FindPropertyValues(property))
      names.emplace(value.data(), value.size());
  }
  return names;
}

}  // namespace raft
