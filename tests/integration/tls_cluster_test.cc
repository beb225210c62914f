// TLS end to end with real raftkvd processes and kvctl: five members whose
// peers talk mutual TLS and whose clients must present certificates, made by
// deploy/local/make-certs.sh; clients without a valid certificate refused;
// TLS files that cannot work -- expired or not yet valid certificates among
// them -- stop raftkvd at start with one line naming the file.

#include <gtest/gtest.h>

#include <tuple>

#include "raft/tls_credentials.h"
#include "tests/integration/process_cluster.h"
#include "tests/integration/read_file.h"
#include "tests/integration/run_command.h"
#include "tests/integration/test_certificates.h"

namespace raftkv {
namespace {

using namespace std::chrono_literals;
using raft::testing::read_file;

std::shared_ptr<grpc::ChannelCredentials> credentials(const std::string& cert, const std::string& key,
                                                      const std::string& ca) {
  auto material = raft::load_tls_material({cert, key, ca}, "test TLS", raft::ChainCheck::kNone);
  EXPECT_TRUE(material.ok()) << material.error().to_string();
  return raft::tls_channel_credentials(material.ok() ? material.value() : raft::TlsMaterial{});
}

class TlsCluster : public ProcessCluster {
 protected:
  // Every member with its own certificate on both endpoints, peers limited
  // to the members' names, clients required to present certificates.
  void start_tls_cluster(int size) {
    member_flags_ = [this](int id) {
      return "--peer-cert-file " + certificates_.member_cert(id) + " --peer-key-file " +
             certificates_.member_key(id) + " --peer-trusted-ca-file " + certificates_.ca() +
             " --peer-cert-allowed-names member-1,member-2,member-3,member-4,member-5" + " --cert-file " +
             certificates_.member_cert(id) + " --key-file " + certificates_.member_key(id) +
             " --trusted-ca-file " + certificates_.ca() + " --client-cert-auth";
    };
    client_credentials_ =
        credentials(certificates_.client_cert(), certificates_.client_key(), certificates_.ca());
    start_cluster(size);
  }

  grpc::Status put_with(const std::shared_ptr<grpc::ChannelCredentials>& with, int via) {
    auto stub = api::KV::NewStub(grpc::CreateChannel(client_[via], with));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 2s);
    api::PutRequest request;
    request.set_key("k");
    request.set_value("v");
    api::PutResponse response;
    return stub->Put(&context, request, &response);
  }

  // Runs kvctl; returns its exit status and fills `output`.
  int kvctl(const std::string& arguments, std::string& output) {
    int status = 0;
    std::tie(status, output) =
        raft::testing::run_command(std::string(KVCTL) + " " + arguments, scratch_.sub("kvctl.out"), 30s);
    return status;
  }

  std::string logs(int size) const {
    std::string all;
    for (int id = 1; id <= size; ++id) all += "--- member " + std::to_string(id) + "\n" + read_file(log(id));
    return all;
  }

  raft::testing::TestCertificates certificates_ =
      raft::testing::make_test_certificates(scratch_.sub("certs"), 5);
};

TEST_F(TlsCluster, FiveMembersServeAndFailOverWithTlsOnEveryConnection) {
  start_tls_cluster(5);
  const std::set<int> all = {1, 2, 3, 4, 5};
  const std::uint64_t first = leader(all);
  ASSERT_NE(first, 0u) << logs(5);
  EXPECT_NE(read_file(log(1)).find("(TLS, client certificates required) and peers on " + peer_[1] +
                                   " (mutual TLS)"),
            std::string::npos)
      << read_file(log(1));
  // Through every member: followers forward to the leader over TLS with
  // their own certificates.
  for (int id = 1; id <= 5; ++id) {
    const grpc::Status status = put(id, "key-" + std::to_string(id), "value-" + std::to_string(id));
    ASSERT_TRUE(status.ok()) << id << ": " << status.error_message();
  }
  for (int id = 1; id <= 5; ++id) EXPECT_EQ(get(id, "key-5"), "value-5");

  // The leader dies; the others elect a new one over mutual TLS.
  processes_[static_cast<int>(first)].reset();
  std::set<int> running = all;
  running.erase(static_cast<int>(first));
  // (At first the survivors still name the dead leader.)
  ASSERT_TRUE(raft::testing::eventually(
      [&] {
        const std::uint64_t next = leader(running, 2s);
        return next != 0 && next != first;
      },
      20s))
      << logs(5);
  const int survivor = *running.begin();
  EXPECT_TRUE(put(survivor, "after", "failover").ok());
  EXPECT_EQ(get(*running.rbegin(), "after"), "failover");

  // kvctl as an operator runs it.
  const std::string endpoints = "--endpoints " + client_[survivor];
  const std::string tls = " --cacert " + certificates_.ca() + " --cert " + certificates_.client_cert() +
                          " --key " + certificates_.client_key();
  std::string output;
  ASSERT_EQ(kvctl(endpoints + tls + " get after", output), 0) << output;
  EXPECT_EQ(output, "after\nfailover\n");
}

TEST_F(TlsCluster, ClientsWithoutAValidCertificateAreRefused) {
  start_tls_cluster(3);
  ASSERT_NE(leader({1, 2, 3}), 0u) << logs(3);
  auto refused = [&](const std::shared_ptr<grpc::ChannelCredentials>& with, const char* who) {
    const grpc::Status status = put_with(with, 1);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << who << ": " << status.error_message();
  };
  refused(grpc::InsecureChannelCredentials(), "plaintext");
  refused(credentials("", "", certificates_.ca()), "TLS without a client certificate");
  const auto stranger = raft::testing::make_test_certificates(scratch_.sub("stranger"), 1);
  refused(credentials(stranger.client_cert(), stranger.client_key(), certificates_.ca()),
          "a client certificate another CA signed");
  EXPECT_TRUE(put_with(client_credentials_, 1).ok());
  EXPECT_EQ(get(1, "k"), "v") << "the refused writes did nothing";
  // The member's log says why in words (gRPC 1.51 does not tell from where).
  const std::string member_log = raft::testing::read_file(log(1));
  for (const char* says : {"a TLS handshake failed: the other side does not speak TLS",
                           "a TLS handshake was refused: the connecting side sent no certificate",
                           "a TLS handshake failed: the other side's certificate is not signed by the CA"}) {
    EXPECT_NE(member_log.find(says), std::string::npos) << "the log does not say \"" << says << "\":\n"
                                                        << member_log;
  }

  std::string output;
  const std::string endpoints = "--endpoints " + client_[1] + " --command-timeout 2";
  EXPECT_EQ(kvctl(endpoints + " get k", output), 1);
  EXPECT_NE(output.find("does it use TLS? then give --cacert"), std::string::npos) << output;
  EXPECT_EQ(kvctl(endpoints + " --cacert " + certificates_.ca() + " put k w", output), 1);
  EXPECT_NE(output.find("does it require a client certificate (--cert, --key)"), std::string::npos) << output;
  EXPECT_EQ(get(1, "k"), "v");
  EXPECT_EQ(kvctl(endpoints + " --cacert " + certificates_.ca() + " --cert " + certificates_.client_cert() +
                      " --key " + certificates_.member_key(1) + " get k",
                  output),
            2);
  EXPECT_NE(output.find("does not belong to the certificate"), std::string::npos) << output;
}

TEST_F(TlsCluster, TlsFilesThatCannotWorkStopTheMemberWithOneLine) {
  const auto stranger = raft::testing::make_test_certificates(scratch_.sub("stranger"), 1);
  const std::string base = "--id 1 --data-dir " + scratch_.sub("d") +
                           " --listen-peer 127.0.0.1:1 --listen-client 127.0.0.1:2 --peers 1=127.0.0.1:1 ";
  auto peer_tls = [&](const std::string& cert, const std::string& key, const std::string& ca) {
    return base + "--peer-cert-file " + cert + " --peer-key-file " + key + " --peer-trusted-ca-file " + ca;
  };
  const auto& c = certificates_;
  // Signed by the cluster CA, with everything right but the dates.
  raft::testing::make_certificate_valid_between(c, "expired", -7 * 86400, -86400);
  raft::testing::make_certificate_valid_between(c, "future", 86400, 7 * 86400);
  auto dated = [&](const std::string& name) { return c.directory + "/" + name; };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {peer_tls(dated("expired.crt"), dated("expired.key"), c.ca()), "expired.crt has expired"},
      {peer_tls(dated("future.crt"), dated("future.key"), c.ca()), "future.crt is not valid yet"},
      {base + "--cert-file " + dated("expired.crt") + " --key-file " + dated("expired.key"),
       "expired.crt has expired"},
      {peer_tls(c.member_cert(1), c.member_key(2), c.ca()), "does not belong to the certificate"},
      {peer_tls(stranger.member_cert(1), stranger.member_key(1), c.ca()), "is not signed by the CA"},
      {peer_tls(c.member_cert(1), c.member_key(1), scratch_.sub("missing.pem")), "cannot read"},
      {peer_tls(c.member_key(1), c.member_key(1), c.ca()), "holds no PEM certificate"},
      {base + "--peer-cert-file " + c.member_cert(1), "give --peer-cert-file, --peer-key-file and"},
      {base + "--cert-file " + c.member_cert(1) + " --key-file " + c.member_key(1) + " --client-cert-auth",
       "--client-cert-auth needs"},
      {base + "--peer-cert-allowed-names member-2", "--peer-cert-allowed-names needs peer TLS"},
  };
  for (const auto& [arguments, expected] : cases) {
    const auto [status, output] =
        raft::testing::run_command(std::string(RAFTKVD) + " " + arguments, scratch_.sub("out.txt"), 10s);
    EXPECT_EQ(status, 2) << arguments;
    EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
    EXPECT_NE(output.find(expected), std::string::npos) << arguments << "\n" << output;
  }
}

}  // namespace
}  // namespace raftkv
