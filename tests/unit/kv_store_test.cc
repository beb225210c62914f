// kv::Store, the key-value state machine: commands and their versions, the
// applied index kept with the data, snapshots out and in, and what a crashed
// restore or a damaged directory leaves behind.

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <fstream>
#include <thread>

#include "kvstore/store.h"
#include "raft/file_snapshot_store.h"
#include "raft/local_transport.h"
#include "raft/rocksdb_storage.h"
#include "raft/server.h"
#include "raft/static_discovery.h"
#include "raft/storage_record.h"
#include "tests/unit/eventually.h"
#include "tests/unit/memory_snapshot.h"
#include "tests/unit/temporary_directory.h"

namespace kv {
namespace {

namespace api = raftkv::api;
using raft::Index;
using raft::testing::MemorySnapshot;
using raft::testing::TemporaryDirectory;

std::string put(const std::string& key, const std::string& value) {
  pb::Command command;
  command.mutable_put()->set_key(key);
  command.mutable_put()->set_value(value);
  return command.SerializeAsString();
}

std::string del(const std::string& key) {
  pb::Command command;
  command.mutable_delete_()->set_key(key);
  return command.SerializeAsString();
}

pb::CommandResult apply(Store& store, Index index, const std::string& command) {
  raft::Result<std::string> applied = store.apply(index, command);
  EXPECT_TRUE(applied.ok()) << applied.error().to_string();
  pb::CommandResult result;
  EXPECT_TRUE(result.ParseFromString(applied.ok() ? applied.value() : ""));
  return result;
}

std::unique_ptr<Store> open_store(const std::string& directory) {
  auto opened = Store::open(directory);
  EXPECT_TRUE(opened.ok()) << opened.error().to_string();
  return opened.ok() ? std::move(opened).value() : nullptr;
}

TEST(KvStore, PutsCountVersionsAndDeletesStartAKeyOver) {
  TemporaryDirectory directory;
  auto store = open_store(directory.sub("kv"));
  apply(*store, 1, put("k", "one"));
  apply(*store, 2, put("k", "two"));
  pb::StoredValue value = store->get("k").value().value();
  EXPECT_EQ(value.value(), "two");
  EXPECT_EQ(value.version(), 2u);
  EXPECT_EQ(value.create_index(), 1u);
  EXPECT_EQ(value.mod_index(), 2u);
  EXPECT_EQ(apply(*store, 3, del("k")).delete_().deleted(), 1u);
  EXPECT_FALSE(store->get("k").value().has_value());
  EXPECT_EQ(apply(*store, 4, del("k")).delete_().deleted(), 0u);
  apply(*store, 5, put("k", "three"));
  value = store->get("k").value().value();
  EXPECT_EQ(value.version(), 1u);
  EXPECT_EQ(value.create_index(), 5u);
  EXPECT_EQ(store->applied_index(), 5u);
}

TEST(KvStore, AnInvalidCommandIsAnsweredAndStillCountsAsApplied) {
  TemporaryDirectory directory;
  auto store = open_store(directory.sub("kv"));
  EXPECT_NE(apply(*store, 1, "\xff\xff not a command").error(), "");
  EXPECT_NE(apply(*store, 2, pb::Command().SerializeAsString()).error(), "");
  EXPECT_EQ(store->applied_index(), 2u);
}

TEST(KvStore, DataAndAppliedIndexSurviveReopening) {
  TemporaryDirectory directory;
  {
    auto store = open_store(directory.sub("kv"));
    for (Index i = 1; i <= 100; ++i) apply(*store, i, put("key" + std::to_string(i % 10), std::to_string(i)));
  }
  auto store = open_store(directory.sub("kv"));
  EXPECT_EQ(store->applied_index(), 100u);
  EXPECT_EQ(store->all().value().size(), 10u);
  EXPECT_EQ(store->get("key3").value()->value(), "93");
  EXPECT_EQ(store->get("key3").value()->version(), 10u);
}

TEST(KvStore, ASnapshotRestoresAnotherStoreToTheSameState) {
  TemporaryDirectory directory;
  auto source = open_store(directory.sub("a"));
  // Enough data for several 1 MiB blocks.
  for (Index i = 1; i <= 3000; ++i) apply(*source, i, put("key" + std::to_string(i), std::string(1000, 'v')));
  apply(*source, 3001, del("key7"));
  MemorySnapshot snapshot;
  auto view = source->view();
  EXPECT_EQ(view->index(), 3001u);
  ASSERT_TRUE(view->write(snapshot).ok());
  EXPECT_GE(snapshot.blocks(), 2u);

  auto target = open_store(directory.sub("b"));
  apply(*target, 1, put("only-in-target", "x"));
  ASSERT_TRUE(target->restore(3001, snapshot).ok());
  EXPECT_EQ(target->applied_index(), 3001u);
  EXPECT_EQ(target->generation(), 2u);
  const auto expected = source->all().value();
  const auto restored = target->all().value();
  ASSERT_EQ(restored.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(restored[i].first, expected[i].first);
    EXPECT_EQ(restored[i].second.SerializeAsString(), expected[i].second.SerializeAsString());
  }
  EXPECT_FALSE(target->get("only-in-target").value().has_value());
  EXPECT_EQ(target->digest().value().digest, source->digest().value().digest) << "the same state";
  target.reset();
  EXPECT_EQ(open_store(directory.sub("b"))->applied_index(), 3001u) << "the restore is durable";
}

TEST(KvStore, CommandsAppliedTogetherGiveWhatTheyGiveOneByOne) {
  // Later commands of a batch see earlier ones: a put then a compare on it,
  // a retry of a session's write, a delete of a key the batch created.
  std::vector<std::string> commands = {put("a", "1"), put("b", "2")};
  pb::Command cas;
  api::Compare* compare = cas.mutable_txn()->add_compare();
  compare->set_key("a");
  compare->set_target(api::Compare::VALUE);
  compare->set_value("1");
  cas.mutable_txn()->add_success()->mutable_put()->set_key("a");
  cas.mutable_txn()->mutable_success(0)->mutable_put()->set_value("swapped");
  commands.push_back(cas.SerializeAsString());
  pb::Command with_session;
  with_session.mutable_put()->set_key("c");
  with_session.mutable_put()->set_value("once");
  with_session.mutable_put()->mutable_session()->set_client_id(9);
  with_session.mutable_put()->mutable_session()->set_sequence(1);
  commands.push_back(with_session.SerializeAsString());
  commands.push_back(with_session.SerializeAsString());  // a retry
  commands.push_back(del("b"));

  TemporaryDirectory directory;
  auto one_by_one = open_store(directory.sub("a"));
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    expected.push_back(one_by_one->apply(i + 1, commands[i]).value());
  }
  auto together = open_store(directory.sub("b"));
  std::vector<raft::CommittedCommand> batch;
  for (std::size_t i = 0; i < commands.size(); ++i) batch.push_back({i + 1, commands[i]});
  EXPECT_EQ(together->apply_all(batch).value(), expected);
  EXPECT_EQ(together->applied_index(), commands.size());
  EXPECT_EQ(together->digest().value().digest, one_by_one->digest().value().digest);
  EXPECT_EQ(together->get("a").value()->value(), "swapped");
  EXPECT_EQ(together->get("c").value()->version(), 1u) << "the retry applied once";
  EXPECT_FALSE(together->get("b").value().has_value());
  together.reset();
  EXPECT_EQ(open_store(directory.sub("b"))->applied_index(), commands.size())
      << "written with the last index";
}

TEST(KvStore, TheDigestIsEqualForEqualHistoriesAndTellsAnyDifference) {
  TemporaryDirectory directory;
  auto first = open_store(directory.sub("a"));
  auto second = open_store(directory.sub("b"));
  for (Index i = 1; i <= 100; ++i) {
    const std::string command =
        i % 10 == 0 ? del("k" + std::to_string(i - 5)) : put("k" + std::to_string(i), "v");
    apply(*first, i, command);
    apply(*second, i, command);
  }
  const Store::Digest a = first->digest().value();
  EXPECT_EQ(a.applied_index, 100u);
  EXPECT_EQ(a.keys, 80u);  // 90 puts, 10 of their keys deleted
  EXPECT_EQ(second->digest().value().digest, a.digest);

  // The same keys with one value different, and the same state one index on.
  auto third = open_store(directory.sub("c"));
  for (Index i = 1; i <= 100; ++i) {
    const std::string command = i % 10 == 0 ? del("k" + std::to_string(i - 5))
                                : i == 42   ? put("k42", "w")
                                            : put("k" + std::to_string(i), "v");
    apply(*third, i, command);
  }
  EXPECT_EQ(third->digest().value().keys, a.keys);
  EXPECT_NE(third->digest().value().digest, a.digest);
  apply(*second, 101, del("no-such-key"));
  EXPECT_NE(second->digest().value().digest, a.digest) << "the applied index is part of the state";
  EXPECT_EQ(second->digest().value().applied_index, 101u);
}

TEST(KvStore, AViewIsFrozenAtItsIndexWhileTheStoreMovesOn) {
  TemporaryDirectory directory;
  auto store = open_store(directory.sub("kv"));
  apply(*store, 1, put("k", "before"));
  auto view = store->view();
  apply(*store, 2, put("k", "after"));
  apply(*store, 3, put("new", "x"));
  MemorySnapshot snapshot;
  ASSERT_TRUE(view->write(snapshot).ok());
  view.reset();
  auto target = open_store(directory.sub("target"));
  ASSERT_TRUE(target->restore(1, snapshot).ok());
  EXPECT_EQ(target->get("k").value()->value(), "before");
  EXPECT_FALSE(target->get("new").value().has_value());
}

TEST(KvStore, AViewOutlivesTheGenerationARestoreReplaced) {
  TemporaryDirectory directory;
  auto store = open_store(directory.sub("kv"));
  apply(*store, 1, put("k", "old"));
  auto view = store->view();
  MemorySnapshot other;
  {
    auto donor = open_store(directory.sub("donor"));
    apply(*donor, 1, put("k", "donated"));
    ASSERT_TRUE(donor->view()->write(other).ok());
  }
  ASSERT_TRUE(store->restore(5, other).ok());
  MemorySnapshot written;
  ASSERT_TRUE(view->write(written).ok()) << "the old generation is still readable by its view";
  auto target = open_store(directory.sub("target"));
  ASSERT_TRUE(target->restore(1, written).ok());
  EXPECT_EQ(target->get("k").value()->value(), "old");
  EXPECT_EQ(store->get("k").value()->value(), "donated");
}

TEST(KvStore, ARestoreThatFailsHalfwayLeavesTheOldStateInPlace) {
  class FailingSource final : public raft::SnapshotSource {
   public:
    raft::Result<bool> next(std::string& block) override {
      if (calls_++ == 0) {
        pb::StoredValue value;
        value.set_value("from the snapshot");
        block = raft::storage_record::big_endian(1, 4) + "k" +
                raft::storage_record::big_endian(value.ByteSizeLong(), 4) + value.SerializeAsString();
        return true;
      }
      return raft::Error{raft::ErrorCode::kStorage, "snapshot 9 is damaged"};
    }

   private:
    int calls_ = 0;
  };
  TemporaryDirectory directory;
  auto store = open_store(directory.sub("kv"));
  apply(*store, 1, put("k", "mine"));
  FailingSource source;
  const raft::Status restored = store->restore(9, source);
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(store->get("k").value()->value(), "mine");
  EXPECT_EQ(store->applied_index(), 1u);
  store.reset();
  store = open_store(directory.sub("kv"));
  EXPECT_EQ(store->get("k").value()->value(), "mine");
  EXPECT_EQ(store->generation(), 1u);
}

TEST(KvStore, AGenerationLeftByACrashedRestoreIsDroppedAtOpen) {
  TemporaryDirectory directory;
  const std::string path = directory.sub("kv");
  {
    auto store = open_store(path);
    apply(*store, 1, put("k", "kept"));
  }
  {  // what a process killed in the middle of restore() leaves
    rocksdb::DB* db = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::Options options;
    ASSERT_TRUE(rocksdb::DB::Open(options, path, {{rocksdb::kDefaultColumnFamilyName, {}}, {"kv.1", {}}},
                                  &handles, &db)
                    .ok());
    rocksdb::ColumnFamilyHandle* partial = nullptr;
    ASSERT_TRUE(db->CreateColumnFamily({}, "kv.2", &partial).ok());
    ASSERT_TRUE(db->Put({}, partial, "dk", "half").ok());
    db->DestroyColumnFamilyHandle(partial);
    for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
    delete db;
  }
  auto store = open_store(path);
  EXPECT_EQ(store->generation(), 1u);
  EXPECT_EQ(store->get("k").value()->value(), "kept");
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), path, &families).ok());
  EXPECT_EQ(std::count(families.begin(), families.end(), "kv.2"), 0);
}

TEST(KvStore, RefusesADirectoryThatIsNotADatabase) {
  TemporaryDirectory directory;
  const std::string path = directory.sub("kv");
  std::filesystem::create_directories(path);
  { std::ofstream(path + "/notes.txt") << "someone's files"; }
  auto opened = Store::open(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find(path), std::string::npos);
  EXPECT_NE(opened.error().message.find("holds no RocksDB database"), std::string::npos);
}

TEST(KvStore, RefusesAGarbledValue) {
  TemporaryDirectory directory;
  const std::string path = directory.sub("kv");
  {
    auto store = open_store(path);
    apply(*store, 1, put("k", "v"));
  }
  {
    rocksdb::DB* db = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), path,
                                  {{rocksdb::kDefaultColumnFamilyName, {}}, {"kv.1", {}}}, &handles, &db)
                    .ok());
    ASSERT_TRUE(db->Put({}, handles[1], "dk", "garbage!").ok());
    for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
    delete db;
  }
  auto store = open_store(path);
  const auto read = store->get("k");
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.error().message.find("is corrupt"), std::string::npos);
  EXPECT_FALSE(store->apply(2, put("k", "w")).ok()) << "the node stops rather than build on damaged data";
}

// The whole path on real disks: kv::Store under raft::Server, a follower
// that starts empty after the leader compacted, the snapshot written from a
// RocksDB view, sent in chunks, checked, restored into a new generation.
TEST(KvStoreOnRaft, ANewFollowerReceivesTheStoreAsASnapshotAndAgrees) {
  using namespace std::chrono_literals;
  TemporaryDirectory root;
  auto network = raft::LocalNetwork::create();
  auto discovery =
      std::make_shared<raft::StaticDiscovery>(std::vector<raft::Peer>{{1, "a"}, {2, "b"}, {3, "c"}});
  std::map<raft::NodeId, std::shared_ptr<Store>> stores;
  std::map<raft::NodeId, std::unique_ptr<raft::Server>> servers;
  auto start = [&](raft::NodeId id) {
    const std::string data = root.sub("node-" + std::to_string(id));
    auto storage = raft::RocksDbStorage::open(data + "/raft", raft::StorageIdentity{3, id});
    ASSERT_TRUE(storage.ok()) << storage.error().to_string();
    auto snapshots = raft::FileSnapshotStore::open(data + "/snapshots");
    ASSERT_TRUE(snapshots.ok());
    stores[id] = open_store(data + "/kv");
    raft::ServerOptions options;
    options.core.id = id;
    options.core.random_seed = id;
    options.core.election_ticks = 20;
    options.core.max_snapshot_chunk_bytes = 4096;
    options.tick_interval = 5ms;
    options.snapshot_entries = 200;
    options.compaction_margin = 20;
    servers[id] =
        std::make_unique<raft::Server>(options, std::shared_ptr<raft::Storage>(std::move(storage).value()),
                                       std::shared_ptr<raft::SnapshotStore>(std::move(snapshots).value()),
                                       network->endpoint(), discovery, stores[id]);
    ASSERT_TRUE(servers[id]->start().ok());
  };
  start(1);
  start(2);
  raft::NodeId leader = raft::kNoNode;
  ASSERT_TRUE(raft::testing::eventually([&] {
    for (auto& [id, server] : servers) {
      if (server->status().role == raft::Role::kLeader) leader = id;
    }
    return leader != raft::kNoNode;
  }));
  std::vector<std::future<raft::Result<raft::Applied>>> futures;
  for (int i = 0; i < 2000; ++i) {
    futures.push_back(servers[leader]->propose(put("key-" + std::to_string(i % 300), std::to_string(i))));
  }
  for (auto& future : futures) ASSERT_TRUE(future.get().ok());
  ASSERT_TRUE(raft::testing::eventually([&] { return servers[leader]->status().first_log_index > 1000; }));

  start(3);  // brand new: empty log, empty store
  ASSERT_TRUE(raft::testing::eventually(
      [&] { return stores[3]->applied_index() >= stores[leader]->applied_index(); }));
  EXPECT_GE(stores[3]->generation(), 2u) << "it was restored from a snapshot";
  const auto expected = stores[leader]->all().value();
  const auto replicated = stores[3]->all().value();
  ASSERT_EQ(replicated.size(), 300u);
  ASSERT_EQ(replicated.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(replicated[i].second.SerializeAsString(), expected[i].second.SerializeAsString());
  }
  for (auto& [id, server] : servers) server->stop();
}

}  // namespace
}  // namespace kv
