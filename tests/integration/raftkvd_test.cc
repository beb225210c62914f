// raftkvd as real processes on loopback: flag and data-directory errors
// with their exit statuses, and a three-member cluster that serves reads
// and writes through any member and survives a graceful stop of its leader.
// Every process is killed by PID when a test ends, however it ends.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "proto/kv.grpc.pb.h"
#include "tests/integration/child_process.h"
#include "tests/integration/free_port.h"
#include "tests/integration/process_cluster.h"
#include "tests/integration/raw_call.h"
#include "tests/integration/read_file.h"
#include "tests/unit/eventually.h"
#include "tests/unit/temporary_directory.h"

namespace raftkv {
namespace {

using namespace std::chrono_literals;
using raft::testing::ChildProcess;
using raft::testing::free_port;
using raft::testing::read_file;
using raft::testing::TemporaryDirectory;

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

TEST(Raftkvd, DiscoveryOptionsThatDoNotFitTogetherAreOneLineAndExitStatusTwo) {
  TemporaryDirectory scratch;
  const std::string base =
      "--data-dir " + scratch.sub("d") + " --listen-peer 127.0.0.1:1 --listen-client 127.0.0.1:2 ";
  const std::string dns = base + "--discovery-srv raftkv.test --dns-server 127.0.0.1:1 ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {base + "--id 1", "give either --peers"},
      {dns + "--id 1 --peers 1=127.0.0.1:1", "give either --peers"},
      {dns + "--id 1 --clients 1=127.0.0.1:2", "--clients goes with --peers"},
      {dns + "--name web", "cannot tell this member's id from its name \"web\""},
      {dns + "--name raftkv-5", "member 6 is not one of a cluster of 5"},
      {dns + "--name raftkv-0 --cluster-id 3 --cluster-token prod", "not both"},
      {dns + "--name raftkv-0 --dns-server nonsense", "--dns-server"},
  };
  for (const auto& [arguments, expected] : cases) {
    const std::string log = scratch.sub("out.txt");
    auto process = raftkvd(arguments, log);
    EXPECT_EQ(process->wait_exit(10s), 2) << arguments;
    const std::string output = read_file(log);
    EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
    EXPECT_NE(output.find(expected), std::string::npos) << arguments << "\n" << output;
  }
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
    EXPECT_TRUE(raft::testing::eventually(
        [&] { return read_file(scratch.sub("first.txt")).find("serving clients") != std::string::npos; },
        10s));
    first->send_signal(SIGTERM);
    EXPECT_EQ(first->wait_exit(10s), 0) << read_file(scratch.sub("first.txt"));
  }
  auto second = raftkvd("--cluster-id 6" + common, scratch.sub("second.txt"));
  EXPECT_EQ(second->wait_exit(10s), 1);
  const std::string output = read_file(scratch.sub("second.txt"));
  EXPECT_NE(output.find(data + "/raft: belongs to cluster 5, not cluster 6"), std::string::npos) << output;
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
    EXPECT_TRUE(
        raft::testing::eventually([&] { return std::ifstream(expected + "/raft/CURRENT").good(); }, 10s))
        << expected << "\n"
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

TEST_F(ProcessCluster, ThreeServeThroughAnyMemberAndSurviveAGracefulStopOfTheLeader) {
  start_cluster(3);
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

// Issue 4's cluster test, on five real processes. The stated failover bound:
// after kill -9 of the leader, a write through a survivor succeeds within
// 3 s (election timeouts are 200-400 ms with --tick-ms 20).
TEST_F(ProcessCluster, FiveMembersKeepEveryAcknowledgedWriteThroughKillsAndMinorities) {
  start_cluster(5, "--snapshot-entries 500 --compaction-margin 100");
  const std::set<int> all = {1, 2, 3, 4, 5};
  ASSERT_NE(leader(all), 0u) << cluster_state();

  // 10,000 keys through random members, eight clients at a time. The first
  // failure is kept, to say why.
  std::mutex failure_mutex;
  std::string first_failure;
  auto write_keys = [&](int from, int to) {
    std::vector<std::thread> writers;
    std::atomic<int> failures{0};
    for (int w = 0; w < 8; ++w) {
      writers.emplace_back([&, w] {
        for (int i = from + w; i < to; i += 8) {
          int via = 1 + (i * 7 + w) % 5;
          while (!processes_[via]) via = via % 5 + 1;  // a running member
          const grpc::Status status =
              put_retrying_refusals(via, "key-" + std::to_string(i), "value-" + std::to_string(i));
          if (status.ok()) continue;
          ++failures;
          std::lock_guard lock(failure_mutex);
          if (first_failure.empty()) {
            first_failure = "through member " + std::to_string(via) + ": " +
                            std::to_string(status.error_code()) + " " + status.error_message();
          }
        }
      });
    }
    for (std::thread& writer : writers) writer.join();
    return failures.load();
  };
  ASSERT_EQ(write_keys(0, 10000), 0) << first_failure << "\n" << cluster_state();
  auto count = [&](int via, bool serializable) -> std::int64_t {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    raftkv::api::RangeRequest request;
    request.set_key("key-");
    request.set_range_end("key.");  // the prefix "key-"
    request.set_count_only(true);
    request.set_serializable(serializable);
    raftkv::api::RangeResponse response;
    return kv(via)->Range(&context, request, &response).ok() ? static_cast<std::int64_t>(response.count())
                                                             : -1;
  };
  EXPECT_EQ(count(1, false), 10000);

  // kill -9 the leader: a survivor serves a write within the bound.
  const int first = static_cast<int>(leader(all));
  processes_[first]->kill_now();
  processes_[first].reset();
  std::set<int> running = all;
  running.erase(first);
  const int survivor = *running.begin();
  const auto killed_at = std::chrono::steady_clock::now();
  while (!put(survivor, "after-kill", "yes").ok()) {
    ASSERT_LT(std::chrono::steady_clock::now() - killed_at, 3s) << "no new leader served within 3 s";
  }
  const auto failover =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at);
  std::printf("failover after kill -9 of leader %d: a write succeeded after %lld ms\n", first,
              static_cast<long long>(failover.count()));
  EXPECT_EQ(count(survivor, false), 10000) << "no acknowledged write was lost";

  // More writes while it is down: the others compact past them, so the
  // restarted member catches up by snapshot.
  ASSERT_EQ(write_keys(10000, 12000), 0) << first_failure;
  start(first);
  running.insert(first);
  ASSERT_TRUE(raft::testing::eventually([&] { return count(first, true) == 12000; }))
      << read_file(log(first));
  EXPECT_NE(read_file(log(first)).find("installing snapshot"), std::string::npos)
      << "it caught up by snapshot";

  // Three down: the two left cannot write, but answer serializable reads.
  std::vector<int> stopped;
  for (int id : all) {
    if (stopped.size() < 3 && id != survivor && id != first) stopped.push_back(id);
  }
  for (int id : stopped) {
    processes_[id]->kill_now();
    processes_[id].reset();
  }
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 2s);
    raftkv::api::PutRequest request;
    request.set_key("minority");
    request.set_value("no");
    raftkv::api::PutResponse response;
    const auto started = std::chrono::steady_clock::now();
    const grpc::Status status = kv(survivor)->Put(&context, request, &response);
    EXPECT_TRUE(status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
        << status.error_code() << " " << status.error_message();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s) << "within its deadline";
  }
  EXPECT_EQ(count(survivor, true), 12000) << "serializable reads still answer";

  // Back to five: writes resume.
  for (int id : stopped) start(id);
  const auto resumed = std::chrono::steady_clock::now();
  while (!put(survivor, "after-minority", "yes").ok()) {
    ASSERT_LT(std::chrono::steady_clock::now() - resumed, 20s);
  }
  // A member just restarted answers linearizable reads once it knows the
  // leader.
  EXPECT_TRUE(raft::testing::eventually([&] { return count(stopped.front(), false) == 12000; }));
}

TEST_F(ProcessCluster, MalformedBytesOnBothServicesAreRefusedAndTheClusterServesOn) {
  start_cluster(3);
  const std::set<int> all = {1, 2, 3};
  ASSERT_NE(leader(all), 0u);
  const std::string garbage = "\xff\xfe not a protocol buffer \x01\x02";
  // Every service says which message it expected (refusal_messages_test
  // walks every method); here the point is that the cluster serves on.
  for (const char* method : {"/raftkv.api.KV/Put", "/raftkv.api.KV/Range", "/raftkv.api.KV/Delete",
                             "/raftkv.api.KV/Txn", "/raftkv.api.Admin/Status"}) {
    const grpc::Status status = raft::testing::raw_call(client_[1], method, garbage);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << method << ": " << status.error_message();
    EXPECT_NE(status.error_message().find("raftkv.api."), std::string::npos) << status.error_message();
  }
  // On the peer port the stream is refused: nothing reaches the core.
  const grpc::Status peer = raft::testing::raw_call(peer_[2], "/raft.pb.RaftPeer/Stream", garbage);
  EXPECT_EQ(peer.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << peer.error_message();
  EXPECT_NE(peer.error_message().find("not a raft.pb.Message"), std::string::npos) << peer.error_message();
  EXPECT_TRUE(put(3, "still", "serving").ok());
  EXPECT_EQ(get(1, "still"), "serving");
}

TEST_F(ProcessCluster, ClientsHammeringAFollowerThroughElectionsLoseNothing) {
  start_cluster(3);
  const std::set<int> all = {1, 2, 3};
  ASSERT_NE(leader(all), 0u);
  std::atomic<bool> done{false};
  std::mutex acknowledged_mutex;
  std::vector<std::string> acknowledged;
  std::atomic<int> refused{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; !done; ++i) {
        // Always through whichever member is a follower right now (or was).
        const int via = 1 + (c + i) % 3;
        const std::string key = "hammer-" + std::to_string(c) + "-" + std::to_string(i);
        const grpc::Status status = put(via, key, "v");
        if (status.ok()) {
          std::lock_guard lock(acknowledged_mutex);
          acknowledged.push_back(key);
        } else {
          // During an election: a clear, retryable answer, never a wrong one.
          EXPECT_TRUE(status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
              << status.error_code() << " " << status.error_message();
          ++refused;
        }
      }
    });
  }
  auto acknowledged_count = [&] {
    std::lock_guard lock(acknowledged_mutex);
    return acknowledged.size();
  };
  // Five elections under load: leadership moved around by transfer, each
  // once the clients have written a while under the current leader, and
  // each must happen -- the target leads afterwards, as every member agrees.
  // (A transfer refused because the target was a moment behind is asked
  // again; what counts is that leadership moved where it was sent.)
  int transfers = 0;
  for (int round = 0; round < 5; ++round) {
    const std::size_t before = acknowledged_count();
    EXPECT_TRUE(raft::testing::eventually([&] { return acknowledged_count() >= before + 100; }));
    const std::uint64_t current = leader(all);
    if (current == 0) {  // not ASSERT: the clients must be joined first
      ADD_FAILURE() << "no leader under load";
      break;
    }
    const std::uint64_t target = current % 3 + 1;
    grpc::Status transferred;
    for (int attempt = 0; attempt < 3; ++attempt) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + 5s);
      raftkv::api::TransferLeadershipRequest request;
      request.set_target(target);
      raftkv::api::TransferLeadershipResponse response;
      transferred = admin(static_cast<int>(current))->TransferLeadership(&context, request, &response);
      if (transferred.ok()) break;
    }
    if (!transferred.ok()) {
      ADD_FAILURE() << "round " << round << ": the transfer from " << current << " to " << target
                    << " failed three times: " << transferred.error_code() << " "
                    << transferred.error_message();
      break;
    }
    if (leader(all) != target) {
      ADD_FAILURE() << "round " << round << ": the transfer to " << target
                    << " was acknowledged, but the members agree on " << leader(all);
      break;
    }
    ++transfers;
  }
  EXPECT_EQ(transfers, 5) << "every leader change asked for happened";
  const std::size_t before = acknowledged_count();
  EXPECT_TRUE(raft::testing::eventually([&] { return acknowledged_count() >= before + 100; }));
  done = true;
  for (std::thread& client : clients) client.join();
  ASSERT_NE(leader(all), 0u);
  std::printf("%zu writes acknowledged through elections, %d refused\n", acknowledged.size(), refused.load());
  ASSERT_GT(acknowledged.size(), 100u);
  for (const std::string& key : acknowledged)
    ASSERT_EQ(get(1 + static_cast<int>(key.size()) % 3, key), "v") << key;
}

// --max-concurrent-requests: a member alone in a cluster of three holds
// each write until it gives up waiting for a leader (two election timeouts,
// 2 s here), so twelve writes sent at once find four admitted and the rest
// refused at once, saying why; the member serves on afterwards.
TEST_F(ProcessCluster, WritesBeyondTheConcurrentRequestLimitAreRefusedAtOnce) {
  configure_cluster(3, "--max-concurrent-requests 4 --election-ticks 50");
  start(1);
  ASSERT_TRUE(raft::testing::eventually([&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 1s);
    api::StatusResponse status;
    return admin(1)->Status(&context, api::StatusRequest(), &status).ok();
  })) << read_file(log(1));
  auto stub = kv(1);
  struct Call {
    grpc::ClientContext context;
    api::PutRequest request;
    api::PutResponse response;
    grpc::Status status;
  };
  std::vector<Call> calls(12);
  std::mutex mutex;
  std::condition_variable answered;
  int pending = static_cast<int>(calls.size());
  for (Call& call : calls) {
    call.context.set_deadline(std::chrono::system_clock::now() + 10s);
    call.request.set_key("k");
    call.request.set_value("v");
    // All twelve leave from this thread at once (gRPC's callback API).
    stub->async()->Put(&call.context, &call.request, &call.response, [&, at = &call](grpc::Status status) {
      std::lock_guard lock(mutex);
      at->status = std::move(status);
      if (--pending == 0) answered.notify_all();
    });
  }
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(answered.wait_for(lock, 30s, [&] { return pending == 0; }));
  }
  int refused = 0, admitted = 0;
  for (const Call& call : calls) {
    if (call.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      EXPECT_NE(call.status.error_message().find("member 1 has 4 requests in flight; retry with back-off"),
                std::string::npos)
          << call.status.error_message();
    } else {
      ++admitted;  // held, then answered that no leader could take it
      EXPECT_TRUE(call.status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                  call.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
          << call.status.error_code() << " " << call.status.error_message();
    }
  }
  EXPECT_EQ(admitted, 4) << "the limit's worth of writes were held";
  EXPECT_EQ(refused, 8) << "the rest were refused";
  // The refusals hold nothing: once the held writes are answered, the
  // member takes calls again.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  api::StatusResponse status;
  EXPECT_TRUE(admin(1)->Status(&context, api::StatusRequest(), &status).ok());
  const grpc::Status again = put(1, "k", "v");
  EXPECT_NE(again.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << again.error_message();
}

TEST_F(ProcessCluster, AnOverLimitRequestIsResourceExhausted) {
  start_cluster(3);
  ASSERT_NE(leader({1, 2, 3}), 0u);
  const grpc::Status status = put(1, "big", std::string(5 << 20, 'x'));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_TRUE(put(1, "small", "fine").ok());
}

}  // namespace
}  // namespace raftkv
