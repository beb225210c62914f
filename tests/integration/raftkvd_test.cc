// raftkvd as real processes on loopback: flag and data-directory errors
// with their exit statuses, and a three-member cluster that serves reads
// and writes through any member and survives a graceful stop of its leader.
// Every process is killed by PID when a test ends, however it ends.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "proto/kv.grpc.pb.h"
#include "tests/integration/child_process.h"
#include "tests/unit/temporary_directory.h"

namespace raftkv {
namespace {

using namespace std::chrono_literals;
using raft::testing::ChildProcess;
using raft::testing::TemporaryDirectory;

// A port the kernel says is free on 127.0.0.1 right now.
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Runs raftkvd with `arguments`, its output to `log`.
std::unique_ptr<ChildProcess> raftkvd(const std::string& arguments, const std::string& log) {
  return std::make_unique<ChildProcess>(std::vector<std::string>{
      "/bin/sh", "-c", "exec " + std::string(RAFTKVD) + " " + arguments + " >" + log + " 2>&1"});
}

TEST(Raftkvd, ABadFlagIsOneLineAndExitStatusTwo) {
  TemporaryDirectory scratch;
  const std::string log = scratch.sub("out.txt");
  auto process = raftkvd("--id 1 --data-dir " + scratch.sub("d") +
                             " --listen-peer 127.0.0.1:1 --listen-client 127.0.0.1:2 --peers 1=127.0.0.1:1 "
                             "--election-ticks many",
                         log);
  EXPECT_EQ(process->wait_exit(10s), 2);
  const std::string output = read_file(log);
  EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
  EXPECT_NE(output.find("--election-ticks"), std::string::npos) << output;
}

TEST(Raftkvd, AnotherClustersDataDirectoryIsRefusedWithExitStatusOne) {
  TemporaryDirectory scratch;
  const std::string data = scratch.sub("node");
  const std::string peer = "127.0.0.1:" + std::to_string(free_port());
  const std::string common = " --id 1 --data-dir " + data + " --listen-peer " + peer +
                             " --listen-client 127.0.0.1:" + std::to_string(free_port()) +
                             " --peers 1=" + peer;
  {
    auto first = raftkvd("--cluster-id 5" + common, scratch.sub("first.txt"));
    std::this_thread::sleep_for(500ms);
    first->send_signal(SIGTERM);
    EXPECT_EQ(first->wait_exit(10s), 0) << read_file(scratch.sub("first.txt"));
  }
  auto second = raftkvd("--cluster-id 6" + common, scratch.sub("second.txt"));
  EXPECT_EQ(second->wait_exit(10s), 1);
  const std::string output = read_file(scratch.sub("second.txt"));
  EXPECT_NE(output.find(data + "/raft: belongs to cluster 5, not cluster 6"), std::string::npos) << output;
}

bool eventually_exists(const std::string& path, std::chrono::seconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::ifstream(path).good()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(Raftkvd, AFlagBeatsTheEnvironmentWhichBeatsTheConfigFile) {
  TemporaryDirectory scratch;
  const std::string peer = "127.0.0.1:" + std::to_string(free_port());
  {
    std::ofstream config(scratch.sub("raftkvd.toml"));
    config << "id = 1\n"
           << "data-dir = \"" << scratch.sub("from-file") << "\"\n"
           << "listen-peer = \"" << peer << "\"\n"
           << "listen-client = \"127.0.0.1:" << free_port() << "\"\n"
           << "peers = \"1=" << peer << "\"\n";
  }
  // Which data directory a member creates says which source won.
  auto run = [&](const std::string& environment, const std::string& flags, const std::string& expected) {
    auto process = std::make_unique<ChildProcess>(std::vector<std::string>{
        "/bin/sh", "-c",
        "exec env " + environment + " " + RAFTKVD + " --config " + scratch.sub("raftkvd.toml") + " " + flags +
            " >>" + scratch.sub("log.txt") + " 2>&1"});
    EXPECT_TRUE(eventually_exists(expected + "/raft/CURRENT")) << expected << "\n"
                                                               << read_file(scratch.sub("log.txt"));
    process->send_signal(SIGTERM);
    EXPECT_EQ(process->wait_exit(10s), 0);
  };
  run("RAFTKVD_LOG_LEVEL=warn", "", scratch.sub("from-file"));
  run("RAFTKVD_DATA_DIR=" + scratch.sub("from-env"), "", scratch.sub("from-env"));
  run("RAFTKVD_DATA_DIR=" + scratch.sub("from-env"), "--data-dir " + scratch.sub("from-flag"),
      scratch.sub("from-flag"));
}

TEST(Raftkvd, ABadConfigFileIsOneLineAndExitStatusTwo) {
  TemporaryDirectory scratch;
  { std::ofstream(scratch.sub("bad.toml")) << "id = \"one\"\n"; }
  auto process = raftkvd("--config " + scratch.sub("bad.toml"), scratch.sub("out.txt"));
  EXPECT_EQ(process->wait_exit(10s), 2);
  const std::string output = read_file(scratch.sub("out.txt"));
  EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
}

class ThreeProcesses : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string peers, clients;
    for (int id = 1; id <= 3; ++id) {
      peer_[id] = "127.0.0.1:" + std::to_string(free_port());
      client_[id] = "127.0.0.1:" + std::to_string(free_port());
      peers += (id > 1 ? "," : "") + std::to_string(id) + "=" + peer_[id];
      clients += (id > 1 ? "," : "") + std::to_string(id) + "=" + client_[id];
    }
    for (int id = 1; id <= 3; ++id) {
      processes_[id] = raftkvd("--id " + std::to_string(id) + " --cluster-id 9 --data-dir " +
                                   scratch_.sub("node-" + std::to_string(id)) + " --listen-peer " +
                                   peer_[id] + " --listen-client " + client_[id] + " --peers " + peers +
                                   " --clients " + clients + " --tick-ms 20",
                               log(id));
    }
  }

  std::string log(int id) const { return scratch_.sub("raftkvd-" + std::to_string(id) + ".log"); }

  std::unique_ptr<raftkv::api::KV::Stub> kv(int id) {
    return raftkv::api::KV::NewStub(grpc::CreateChannel(client_[id], grpc::InsecureChannelCredentials()));
  }
  std::unique_ptr<raftkv::api::Admin::Stub> admin(int id) {
    return raftkv::api::Admin::NewStub(grpc::CreateChannel(client_[id], grpc::InsecureChannelCredentials()));
  }

  // The member every running member agrees leads, or 0.
  std::uint64_t leader(const std::set<int>& running, std::chrono::seconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::set<std::uint64_t> seen;
      for (int id : running) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + 1s);
        raftkv::api::StatusResponse status;
        if (admin(id)->Status(&context, raftkv::api::StatusRequest(), &status).ok())
          seen.insert(status.leader());
      }
      if (seen.size() == 1 && *seen.begin() != 0) return *seen.begin();
      std::this_thread::sleep_for(50ms);
    }
    return 0;
  }

  grpc::Status put(int via, const std::string& key, const std::string& value) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    raftkv::api::PutRequest request;
    request.set_key(key);
    request.set_value(value);
    raftkv::api::PutResponse response;
    return kv(via)->Put(&context, request, &response);
  }

  std::string get(int via, const std::string& key) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    raftkv::api::RangeRequest request;
    request.set_key(key);
    raftkv::api::RangeResponse response;
    const grpc::Status status = kv(via)->Range(&context, request, &response);
    if (!status.ok()) return "error: " + status.error_message();
    return response.kvs_size() == 1 ? response.kvs(0).value() : "(none)";
  }

  TemporaryDirectory scratch_;
  std::map<int, std::string> peer_, client_;
  std::map<int, std::unique_ptr<ChildProcess>> processes_;
};

TEST_F(ThreeProcesses, ServeThroughAnyMemberAndSurviveAGracefulStopOfTheLeader) {
  const std::uint64_t first = leader({1, 2, 3});
  ASSERT_NE(first, 0u) << read_file(log(1));
  for (int id = 1; id <= 3; ++id) {
    const grpc::Status status = put(id, "key-" + std::to_string(id), "value-" + std::to_string(id));
    ASSERT_TRUE(status.ok()) << id << ": " << status.error_message();
  }
  for (int id = 1; id <= 3; ++id) EXPECT_EQ(get(id, "key-1"), "value-1");

  // SIGTERM the leader: it hands leadership over and exits 0.
  const int stopped = static_cast<int>(first);
  processes_[stopped]->send_signal(SIGTERM);
  EXPECT_EQ(processes_[stopped]->wait_exit(15s), 0) << read_file(log(stopped));
  EXPECT_NE(read_file(log(stopped)).find("handing leadership to member"), std::string::npos);
  std::set<int> running = {1, 2, 3};
  running.erase(stopped);
  const std::uint64_t second = leader(running);
  ASSERT_NE(second, 0u);
  EXPECT_NE(second, first);
  const int survivor = *running.begin();
  EXPECT_TRUE(put(survivor, "after", "the stop").ok());
  for (int id : running) {
    EXPECT_EQ(get(id, "key-3"), "value-3");
    EXPECT_EQ(get(id, "after"), "the stop");
  }
}

}  // namespace
}  // namespace raftkv
