#pragma once
// Certificates for TLS tests, made by the script operators use
// (deploy/local/make-certs.sh): a CA, member-1..N and client certificates in
// a directory. RAFTKV_SOURCE_DIR names the repository (a compile definition).

#include <cstdlib>
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

}  // namespace raft::testing
