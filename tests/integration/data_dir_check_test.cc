// raftkv-check as a process: a sound node directory passes with a summary
// and exit status 0; a foreign, damaged or newer directory is refused with
// one line naming the directory and the fault and exit status 1; bad usage
// exits with 2. raftkvd opens its directory through the same NodeStorage.

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/node_storage.h"
#include "raft/snapshot_file.h"
#include "raft/storage_record.h"
#include "tests/unit/temporary_directory.h"

namespace raftkv {
namespace {

namespace fs = std::filesystem;

struct CheckRun {
  int status = -1;
  std::string output;  // stdout and stderr
};

CheckRun check(const std::string& arguments, const raft::testing::TemporaryDirectory& scratch) {
  const std::string out = scratch.sub("check-output.txt");
  const int raw = std::system((std::string(RAFTKV_CHECK) + " " + arguments + " >" + out + " 2>&1").c_str());
  std::ifstream file(out);
  std::stringstream text;
  text << file.rdbuf();
  return CheckRun{WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, text.str()};
}

// A node directory with a log of 30 entries, a snapshot at 20 and a store.
class NodeDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    auto node = NodeStorage::open(data_, {7, 1}, NodeStorage::Mode::kCreateIfMissing);
    ASSERT_TRUE(node.ok()) << node.error().to_string();
    NodeStorage storage = std::move(node).value();
    ASSERT_TRUE(storage.raft()->load().ok());
    std::vector<raft::pb::Entry> entries;
    for (raft::Index index = 1; index <= 30; ++index) {
      raft::pb::Entry entry;
      entry.set_index(index);
      entry.set_term(2);
      entries.push_back(entry);
      kv::pb::Command command;
      command.mutable_put()->set_key("key" + std::to_string(index % 4));
      command.mutable_put()->set_value("v");
      if (index <= 25) {
        ASSERT_TRUE(storage.store()->apply(index, command.SerializeAsString()).ok());
      }
    }
    raft::pb::HardState hard;
    hard.set_term(2);
    hard.set_vote(1);
    hard.set_commit(25);
    ASSERT_TRUE(storage.raft()->save(&hard, entries, true).ok());
    raft::pb::SnapshotMetadata header;
    header.set_index(20);
    header.set_term(2);
    auto writer = storage.snapshots()->create(20).value();
    raft::snapshot_file::Encoder encoder(*writer, header);
    ASSERT_TRUE(encoder.write("state").ok());
    snapshot_ = encoder.finish().value();
    ASSERT_TRUE(writer->commit().ok());
    ASSERT_TRUE(storage.raft()->save_snapshot(snapshot_).ok());
    ASSERT_TRUE(storage.raft()->compact(20).ok());
  }

  raft::testing::TemporaryDirectory scratch_;
  const std::string data_ = scratch_.sub("node-1");
  raft::pb::SnapshotMetadata snapshot_;
};

TEST_F(NodeDirectory, ASoundDirectoryPassesWithASummary) {
  const CheckRun run = check("--data-dir " + data_ + " --cluster-id 7 --id 1", scratch_);
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("log 21..30, snapshot at 20"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("applied 25, 4 keys"), std::string::npos) << run.output;
}

TEST_F(NodeDirectory, AnotherClustersOrNodesDirectoryIsRefused) {
  CheckRun run = check("--data-dir " + data_ + " --cluster-id 8 --id 1", scratch_);
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.output.find(data_ + "/raft: belongs to cluster 7, not cluster 8"), std::string::npos)
      << run.output;
  run = check("--data-dir " + data_ + " --cluster-id 7 --id 2", scratch_);
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.output.find("belongs to node 1, not node 2"), std::string::npos) << run.output;
}

TEST_F(NodeDirectory, AGarbledLogRecordIsRefused) {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), data_ + "/raft",
                                {{rocksdb::kDefaultColumnFamilyName, {}},
                                 {raft::RocksDbStorage::kLogColumnFamily, {}},
                                 {raft::RocksDbStorage::kMetaColumnFamily, {}}},
                                &handles, &db)
                  .ok());
  std::string value;
  ASSERT_TRUE(db->Get({}, handles[1], raft::storage_record::log_key(24), &value).ok());
  value.back() ^= 0x01;
  ASSERT_TRUE(db->Put({}, handles[1], raft::storage_record::log_key(24), value).ok());
  for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
  delete db;
  const CheckRun run = check("--data-dir " + data_ + " --cluster-id 7 --id 1", scratch_);
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.output.find("log record at index 24 is corrupt"), std::string::npos) << run.output;
  EXPECT_EQ(std::count(run.output.begin(), run.output.end(), '\n'), 1) << "one line: " << run.output;
}

TEST_F(NodeDirectory, ADamagedSnapshotFileIsRefused) {
  {
    std::fstream file(data_ + "/snapshots/snapshot-00000000000000000020.snap",
                      std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(file.good());
    file.seekp(30);
    file.put('#');
  }
  const CheckRun run = check("--data-dir " + data_ + " --cluster-id 7 --id 1", scratch_);
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.output.find("snapshot 20 is damaged"), std::string::npos) << run.output;
}

TEST_F(NodeDirectory, ANewerFormatIsRefused) {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), data_ + "/kv",
                                {{rocksdb::kDefaultColumnFamilyName, {}}, {"kv.1", {}}}, &handles, &db)
                  .ok());
  ASSERT_TRUE(db->Put({}, handles[0], "format_version",
                      raft::storage_record::seal(raft::storage_record::big_endian(9, 4)))
                  .ok());
  for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
  delete db;
  const CheckRun run = check("--data-dir " + data_ + " --cluster-id 7 --id 1", scratch_);
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.output.find(data_ + "/kv: written in format version 9"), std::string::npos) << run.output;
}

TEST(DataDirectoryCheck, SomeoneElsesDirectoryIsRefusedAndLeftUntouched) {
  raft::testing::TemporaryDirectory scratch;
  const std::string other = scratch.sub("photos");
  fs::create_directories(other);
  { std::ofstream(other + "/holiday.jpg") << "not a database"; }
  const CheckRun run = check("--data-dir " + other + " --cluster-id 7 --id 1", scratch);
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.output.find("holds no raftkv node data"), std::string::npos) << run.output;
  EXPECT_EQ(std::distance(fs::directory_iterator(other), fs::directory_iterator()), 1)
      << "nothing was created";
}

TEST(DataDirectoryCheck, BadUsageExitsWithTwo) {
  raft::testing::TemporaryDirectory scratch;
  EXPECT_EQ(check("--cluster-id 7 --id 1", scratch).status, 2);
  const CheckRun run = check("--data-dir " + scratch.sub("x") + " --cluster-id seven --id 1", scratch);
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.output.find("--cluster-id: must be a positive integer, not 'seven'"), std::string::npos)
      << run.output;
}

}  // namespace
}  // namespace raftkv
