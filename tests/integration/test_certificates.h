#pragma once
// Certificates for TLS tests, made by the script operators use
// (deploy/local/make-certs.sh): a CA, member-1..N and client certificates in
// a directory. RAFTKV_SOURCE_DIR names the repository (a compile definition).

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

namespace raft::testing {

struct TestCertificates {
  std::string directory;

  std::string ca() const { return directory + "/ca.crt"; }
  std::string member_cert(int id) const { return directory + "/member-" + std::to_string(id) + ".crt"; }
  std::string member_key(int id) const { return directory + "/member-" + std::to_string(id) + ".key"; }
  std::string client_cert() const { return directory + "/client.crt"; }
  std::string client_key() const { return directory + "/client.key"; }
};

// A new CA and its certificates in `directory`.
inline TestCertificates make_test_certificates(const std::string& directory, int members) {
  const std::string command = std::string(RAFTKV_SOURCE_DIR) + "/deploy/local/make-certs.sh " + directory +
                              " " + std::to_string(members) + " >/dev/null";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
  return TestCertificates{directory};
}

// A certificate and key for `name` (DIR/<name>.crt, .key), signed by the
// CA in `certificates`, valid from now + `not_before` to now + `not_after`
// seconds (negative: in the past) -- what make-certs.sh cannot make: an
// expired certificate, or one not valid yet.
inline void make_certificate_valid_between(const TestCertificates& certificates, const std::string& name,
                                           long not_before, long not_after) {
  auto fail = [&](const char* what) { throw std::runtime_error(std::string(what) + " for " + name); };
  auto read_pem = [&](const std::string& path) {
    std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "r"), &std::fclose);
    if (!file) fail("cannot read the CA");
    return file;
  };
  std::unique_ptr<X509, void (*)(X509*)> ca(
      PEM_read_X509(read_pem(certificates.ca()).get(), nullptr, nullptr, nullptr), &X509_free);
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> ca_key(
      PEM_read_PrivateKey(read_pem(certificates.directory + "/ca.key").get(), nullptr, nullptr, nullptr),
      &EVP_PKEY_free);
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  std::unique_ptr<X509, void (*)(X509*)> certificate(X509_new(), &X509_free);
  if (!ca || !ca_key || !key || !certificate) fail("cannot make a certificate");
  X509_set_version(certificate.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), std::rand() % 1000000 + 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), not_before);
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), not_after);
  X509_set_pubkey(certificate.get(), key.get());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(certificate.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(certificate.get(), X509_get_subject_name(ca.get()));
  if (X509_sign(certificate.get(), ca_key.get(), EVP_sha256()) == 0) fail("cannot sign the certificate");
  std::unique_ptr<FILE, int (*)(FILE*)> crt(
      std::fopen((certificates.directory + "/" + name + ".crt").c_str(), "w"), &std::fclose);
  std::unique_ptr<FILE, int (*)(FILE*)> pem_key(
      std::fopen((certificates.directory + "/" + name + ".key").c_str(), "w"), &std::fclose);
  if (!crt || !pem_key || PEM_write_X509(crt.get(), certificate.get()) != 1 ||
      PEM_write_PrivateKey(pem_key.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    fail("cannot write the certificate");
}

}  // namespace raft::testing
