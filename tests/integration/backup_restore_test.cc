// Backup and restore as an operator does them, with real processes: three
// members hold 100,000 keys; `kvctl snapshot save` streams a backup from a
// follower; a new three-member cluster is founded from it with
// `raftkvd --restore`; it holds exactly those keys (not a write made after
// the backup), its members' state digests agree, and it takes writes. A
// damaged backup and a data directory that is not empty are refused.

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <thread>
#include <tuple>

#include "tests/integration/process_cluster.h"
#include "tests/integration/read_file.h"
#include "tests/integration/run_command.h"

namespace raftkv {
namespace {

using namespace std::chrono_literals;
using raft::testing::read_file;

constexpr int kKeys = 100'000;

std::string key_of(int i) {
  char key[16];
  std::snprintf(key, sizeof key, "key-%06d", i);
  return key;
}

class BackupRestore : public ProcessCluster {
 protected:
  // Runs kvctl; returns its exit status and fills `output`.
  int kvctl(const std::string& arguments, std::string& output) {
    int status = 0;
    std::tie(status, output) =
        raft::testing::run_command(std::string(KVCTL) + " " + arguments, scratch_.sub("kvctl.out"), 120s);
    return status;
  }

  // 100,000 keys in transactions of 1,000 puts, from four writers.
  void write_keys(int via) {
    std::vector<std::thread> writers;
    std::atomic<int> failures{0};
    for (int w = 0; w < 4; ++w) {
      writers.emplace_back([&, w] {
        for (int batch = w; batch < kKeys / 1000; batch += 4) {
          api::TxnRequest request;
          for (int i = batch * 1000; i < (batch + 1) * 1000; ++i) {
            api::PutRequest* put = request.add_success()->mutable_put();
            put->set_key(key_of(i));
            put->set_value("value-" + std::to_string(i));
          }
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() + 30s);
          api::TxnResponse response;
          if (!kv(via)->Txn(&context, request, &response).ok()) ++failures;
        }
      });
    }
    for (std::thread& writer : writers) writer.join();
    ASSERT_EQ(failures.load(), 0);
  }

  std::uint64_t count_keys(int via) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    api::RangeRequest request;
    request.set_key("key-");
    request.set_range_end("key.");
    request.set_count_only(true);
    api::RangeResponse response;
    const grpc::Status status = kv(via)->Range(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.count();
  }

  // Each member's state digest, once all three have applied the same index.
  std::set<std::uint64_t> digests() {
    std::set<std::uint64_t> seen;
    raft::testing::eventually(
        [&] {
          std::set<std::pair<std::uint64_t, std::uint64_t>> states;
          for (int id = 1; id <= 3; ++id) {
            grpc::ClientContext context;
            context.set_deadline(std::chrono::system_clock::now() + 10s);
            api::StatusRequest request;
            request.set_with_state_digest(true);
            api::StatusResponse status;
            if (!admin(id)->Status(&context, request, &status).ok()) return false;
            states.insert({status.state().applied_index(), status.state().digest()});
          }
          seen.clear();
          for (const auto& [index, digest] : states) seen.insert(digest);
          return states.size() == 1;
        },
        30s);
    return seen;
  }
};

TEST_F(BackupRestore, AHundredThousandKeysRoundTripIntoANewCluster) {
  start_cluster(3, "--snapshot-entries 50");
  const std::uint64_t leader_id = leader({1, 2, 3});
  ASSERT_NE(leader_id, 0u) << read_file(log(1));
  write_keys(static_cast<int>(leader_id));
  ASSERT_EQ(count_keys(1), static_cast<std::uint64_t>(kKeys));

  const int follower = static_cast<int>(leader_id) % 3 + 1;
  const std::string backup = scratch_.sub("backup.snap");
  std::string output;
  ASSERT_EQ(kvctl("--endpoints " + client_[follower] + " snapshot save " + backup, output), 0) << output;
  EXPECT_NE(output.find(backup + ": a whole backup at index "), std::string::npos) << output;
  ASSERT_TRUE(put(1, "written-after-the-backup", "x").ok());
  ASSERT_EQ(kvctl("snapshot status " + backup, output), 0) << output;

  // A damaged copy is refused, by kvctl and by raftkvd, before anything starts.
  const std::string damaged = scratch_.sub("damaged.snap");
  {
    std::string bytes = read_file(backup);
    bytes[bytes.size() / 2] ^= 0x55;
    std::ofstream(damaged, std::ios::binary) << bytes;
  }
  EXPECT_EQ(kvctl("snapshot status " + damaged, output), 1);
  EXPECT_NE(output.find("is not a whole raftkv backup"), std::string::npos) << output;

  // The old cluster goes; a new one is founded from the backup.
  processes_.clear();
  data_directory_prefix_ = "restored-";
  start_cluster(3, "--restore " + backup);
  const std::uint64_t new_leader = leader({1, 2, 3});
  ASSERT_NE(new_leader, 0u) << read_file(log(1));
  for (int id = 1; id <= 3; ++id) EXPECT_EQ(count_keys(id), static_cast<std::uint64_t>(kKeys)) << id;
  std::mt19937 random(7);
  for (int sample = 0; sample < 300; ++sample) {
    const int i = static_cast<int>(random() % kKeys);
    ASSERT_EQ(get(1 + sample % 3, key_of(i)), "value-" + std::to_string(i));
  }
  EXPECT_EQ(get(1, "written-after-the-backup"), "(none)");
  EXPECT_EQ(digests().size(), 1u) << "the members' states differ";
  ASSERT_TRUE(put(2, "written-after-the-restore", "y").ok());
  EXPECT_EQ(get(3, "written-after-the-restore"), "y");

  // A member whose data directory is not empty refuses to restore over it
  // (member 1 restarted with the same flags, --restore still among them).
  processes_[1].reset();
  const auto [over, over_output] = raft::testing::run_command(std::string(RAFTKVD) + " " + arguments_[1],
                                                              scratch_.sub("refused.txt"), 30s);
  EXPECT_EQ(over, 1);
  EXPECT_NE(over_output.find("already holds a member's data"), std::string::npos) << over_output;
  const auto [broken, broken_output] = raft::testing::run_command(
      std::string(RAFTKVD) + " --id 1 --data-dir " + scratch_.sub("fresh") +
          " --listen-peer 127.0.0.1:" + std::to_string(raft::testing::free_port()) +
          " --listen-client 127.0.0.1:" + std::to_string(raft::testing::free_port()) +
          " --peers 1=127.0.0.1:1 --restore " + damaged,
      scratch_.sub("broken.txt"), 30s);
  EXPECT_EQ(broken, 1);
  EXPECT_NE(broken_output.find("cannot restore from " + damaged), std::string::npos) << broken_output;
}

}  // namespace
}  // namespace raftkv
