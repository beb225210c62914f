// One conformance suite for every raft::Storage, run unchanged against
// InMemoryStorage and RocksDbStorage; then what only a disk can get wrong:
// a foreign, damaged or newer data directory must be refused with a message
// naming the directory and the fault.

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

#include "raft/crc32c.h"
#include "raft/in_memory_storage.h"
#include "raft/rocksdb_storage.h"
#include "raft/storage_record.h"
#include "tests/unit/temporary_directory.h"

namespace raft {
namespace {

namespace fs = std::filesystem;

using testing::TemporaryDirectory;

pb::Entry entry(Index index, Term term, std::string data = "") {
  pb::Entry result;
  result.set_index(index);
  result.set_term(term);
  result.set_data(std::move(data));
  return result;
}

pb::HardState hard_state(Term term, NodeId vote, Index commit) {
  pb::HardState result;
  result.set_term(term);
  result.set_vote(vote);
  result.set_commit(commit);
  return result;
}

std::vector<Term> terms_of(const PersistentState& state) {
  std::vector<Term> terms;
  for (const pb::Entry& e : state.entries) terms.push_back(e.term());
  return terms;
}

TEST(Crc32c, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32c("123456789"), 0xe3069283U);  // the CRC-32C catalogue's check value
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(Crc32c, TheInstructionAndTheTableAgreeOnEveryLengthAndAlignment) {
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  for (std::size_t start = 0; start < 8; ++start) {
    for (std::size_t length = 0; start + length <= data.size(); length += 1 + length / 8) {
      const std::string_view piece(data.data() + start, length);
      ASSERT_EQ(crc32c(piece), detail::crc32c_table(piece)) << start << "+" << length;
    }
  }
  EXPECT_EQ(detail::crc32c_table("123456789"), 0xe3069283U);
}

// ------------------------------------------------------------ conformance --

class StorageUnderTest {
 public:
  virtual ~StorageUnderTest() = default;
  virtual Storage& storage() = 0;
  // What a restart sees: the same data through a fresh handle.
  virtual void reopen() = 0;
};

class InMemoryUnderTest final : public StorageUnderTest {
 public:
  Storage& storage() override { return storage_; }
  void reopen() override {}

 private:
  InMemoryStorage storage_;
};

class RocksDbUnderTest final : public StorageUnderTest {
 public:
  RocksDbUnderTest() { reopen(); }
  Storage& storage() override { return *storage_; }
  void reopen() override {
    storage_.reset();
    auto opened = RocksDbStorage::open(directory_.sub("data"), StorageIdentity{7, 1});
    if (!opened.ok()) throw std::runtime_error(opened.error().to_string());
    storage_ = std::move(opened).value();
    if (!storage_->load().ok()) throw std::runtime_error("load failed");
  }

 private:
  TemporaryDirectory directory_;
  std::unique_ptr<RocksDbStorage> storage_;
};

using Factory = std::function<std::unique_ptr<StorageUnderTest>()>;

class StorageConformance : public ::testing::TestWithParam<std::pair<const char*, Factory>> {
 protected:
  void SetUp() override {
    under_test_ = GetParam().second();
    ASSERT_TRUE(storage().load().ok());
  }
  Storage& storage() { return under_test_->storage(); }
  PersistentState reload() {
    under_test_->reopen();
    Result<PersistentState> state = storage().load();
    EXPECT_TRUE(state.ok()) << state.error().to_string();
    return state.ok() ? std::move(state).value() : PersistentState{};
  }

  std::unique_ptr<StorageUnderTest> under_test_;
};

TEST_P(StorageConformance, StartsEmpty) {
  const PersistentState state = reload();
  EXPECT_TRUE(state.entries.empty());
  EXPECT_EQ(state.hard_state.term(), 0u);
  EXPECT_EQ(state.hard_state.vote(), kNoNode);
}

TEST_P(StorageConformance, KeepsHardStateAndEntriesAcrossARestart) {
  const pb::HardState hard = hard_state(3, 2, 1);
  ASSERT_TRUE(storage().save(&hard, {entry(1, 1, "a"), entry(2, 3, "b")}, true).ok());
  const PersistentState state = reload();
  EXPECT_EQ(state.hard_state.term(), 3u);
  EXPECT_EQ(state.hard_state.vote(), 2u);
  EXPECT_EQ(state.hard_state.commit(), 1u);
  ASSERT_EQ(state.entries.size(), 2u);
  EXPECT_EQ(state.entries[1].data(), "b");
  EXPECT_EQ(state.entries[1].index(), 2u);
}

TEST_P(StorageConformance, AppendsContinueTheLog) {
  ASSERT_TRUE(storage().save(nullptr, {entry(1, 1)}, true).ok());
  ASSERT_TRUE(storage().save(nullptr, {entry(2, 1), entry(3, 1)}, true).ok());
  EXPECT_EQ(terms_of(reload()), (std::vector<Term>{1, 1, 1}));
}

TEST_P(StorageConformance, EntriesReplaceTheStoredSuffixFromTheirFirstIndex) {
  ASSERT_TRUE(storage().save(nullptr, {entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 1)}, true).ok());
  ASSERT_TRUE(storage().save(nullptr, {entry(2, 2)}, true).ok());  // shorter: 3 and 4 go
  EXPECT_EQ(terms_of(reload()), (std::vector<Term>{1, 2}));
  ASSERT_TRUE(storage().save(nullptr, {entry(2, 3), entry(3, 3), entry(4, 3), entry(5, 3)}, true).ok());
  EXPECT_EQ(terms_of(reload()), (std::vector<Term>{1, 3, 3, 3, 3}));
}

TEST_P(StorageConformance, HardStateAloneCanBeSaved) {
  ASSERT_TRUE(storage().save(nullptr, {entry(1, 1)}, true).ok());
  const pb::HardState hard = hard_state(4, 3, 1);
  ASSERT_TRUE(storage().save(&hard, {}, false).ok());
  const PersistentState state = reload();
  EXPECT_EQ(state.hard_state.term(), 4u);
  EXPECT_EQ(state.entries.size(), 1u);
}

TEST_P(StorageConformance, RefusesEntriesThatWouldLeaveAGap) {
  ASSERT_TRUE(storage().save(nullptr, {entry(1, 1)}, true).ok());
  const Status saved = storage().save(nullptr, {entry(3, 1)}, true);
  ASSERT_FALSE(saved.ok());
  EXPECT_EQ(saved.error().code, ErrorCode::kStorage);
  EXPECT_EQ(reload().entries.size(), 1u) << "nothing of a refused save is kept";
}

TEST_P(StorageConformance, ManyEntriesInOneSave) {
  std::vector<pb::Entry> batch;
  for (Index i = 1; i <= 1000; ++i) batch.push_back(entry(i, 1, std::string(256, 'x')));
  ASSERT_TRUE(storage().save(nullptr, batch, true).ok());
  const PersistentState state = reload();
  ASSERT_EQ(state.entries.size(), 1000u);
  EXPECT_EQ(state.entries.back().index(), 1000u);
}

pb::SnapshotMetadata snapshot_at(Index index, Term term) {
  pb::SnapshotMetadata snapshot;
  snapshot.set_index(index);
  snapshot.set_term(term);
  snapshot.set_size(100);
  snapshot.mutable_configuration()->add_voters()->set_id(1);
  return snapshot;
}

std::vector<pb::Entry> entries_from(Index first, Index last, Term term) {
  std::vector<pb::Entry> result;
  for (Index index = first; index <= last; ++index) result.push_back(entry(index, term, "e"));
  return result;
}

TEST_P(StorageConformance, ASnapshotOfAnEntryTheLogHoldsKeepsTheLog) {
  ASSERT_TRUE(storage().save(nullptr, entries_from(1, 10, 1), true).ok());
  ASSERT_TRUE(storage().save_snapshot(snapshot_at(6, 1)).ok());
  const PersistentState state = reload();
  EXPECT_EQ(state.snapshot.index(), 6u);
  EXPECT_EQ(state.snapshot.size(), 100u);
  EXPECT_EQ(state.log_base.index(), 0u);
  EXPECT_EQ(state.entries.size(), 10u);
}

TEST_P(StorageConformance, ASnapshotTheLogDoesNotHoldReplacesTheLog) {
  ASSERT_TRUE(storage().save(nullptr, entries_from(1, 10, 1), true).ok());
  ASSERT_TRUE(storage().save_snapshot(snapshot_at(6, 2)).ok());  // another term at 6
  PersistentState state = reload();
  EXPECT_EQ(state.log_base.index(), 6u);
  EXPECT_EQ(state.log_base.term(), 2u);
  EXPECT_TRUE(state.entries.empty());
  ASSERT_TRUE(storage().save_snapshot(snapshot_at(50, 3)).ok());  // beyond the log's end
  state = reload();
  EXPECT_EQ(state.log_base.index(), 50u);
  EXPECT_TRUE(state.entries.empty());
  // The log continues after the snapshot.
  ASSERT_TRUE(storage().save(nullptr, entries_from(51, 52, 3), true).ok());
  state = reload();
  ASSERT_EQ(state.entries.size(), 2u);
  EXPECT_EQ(state.entries.front().index(), 51u);
}

TEST_P(StorageConformance, CompactionDeletesThePrefixUpToTheSnapshot) {
  ASSERT_TRUE(storage().save(nullptr, entries_from(1, 10, 1), true).ok());
  ASSERT_TRUE(storage().save(nullptr, entries_from(11, 20, 2), true).ok());
  ASSERT_TRUE(storage().save_snapshot(snapshot_at(15, 2)).ok());
  ASSERT_TRUE(storage().compact(12).ok());
  PersistentState state = reload();
  EXPECT_EQ(state.log_base.index(), 12u);
  EXPECT_EQ(state.log_base.term(), 2u);
  ASSERT_EQ(state.entries.size(), 8u);
  EXPECT_EQ(state.entries.front().index(), 13u);
  EXPECT_TRUE(storage().compact(12).ok()) << "compacting again is a no-op";
  const Status past = storage().compact(16);
  ASSERT_FALSE(past.ok()) << "never past the snapshot";
  EXPECT_EQ(reload().log_base.index(), 12u);
}

TEST_P(StorageConformance, EntriesBeforeTheCompactionPointAreRefused) {
  ASSERT_TRUE(storage().save(nullptr, entries_from(1, 10, 1), true).ok());
  ASSERT_TRUE(storage().save_snapshot(snapshot_at(8, 1)).ok());
  ASSERT_TRUE(storage().compact(8).ok());
  EXPECT_FALSE(storage().save(nullptr, {entry(8, 2)}, true).ok());
  ASSERT_TRUE(storage().save(nullptr, {entry(9, 2)}, true).ok());  // replaces 9 and 10
  const PersistentState state = reload();
  EXPECT_EQ(terms_of(state), (std::vector<Term>{2}));
}

TEST_P(StorageConformance, ReadEntriesGivesBackWhatWasSaved) {
  auto numbered = [](Index first, Index last, Term term) {
    std::vector<pb::Entry> result;
    for (Index index = first; index <= last; ++index) {
      result.push_back(entry(index, term, "t" + std::to_string(term) + "-" + std::to_string(index)));
    }
    return result;
  };
  ASSERT_TRUE(storage().save(nullptr, numbered(1, 10, 1), true).ok());
  ASSERT_TRUE(storage().save(nullptr, numbered(6, 12, 2), true).ok());  // replaces 6..10
  Result<std::vector<pb::Entry>> read = storage().read_entries(4, 8);
  ASSERT_TRUE(read.ok()) << read.error().to_string();
  ASSERT_EQ(read.value().size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    const Index index = 4 + i;
    const Term term = index < 6 ? 1 : 2;
    EXPECT_EQ(read.value()[i].index(), index);
    EXPECT_EQ(read.value()[i].term(), term);
    EXPECT_EQ(read.value()[i].data(), "t" + std::to_string(term) + "-" + std::to_string(index));
  }
}

TEST_P(StorageConformance, ReadEntriesRefusesWhatIsNotStored) {
  ASSERT_TRUE(storage().save(nullptr, entries_from(1, 10, 1), true).ok());
  ASSERT_TRUE(storage().save_snapshot(snapshot_at(6, 1)).ok());
  ASSERT_TRUE(storage().compact(5).ok());
  EXPECT_FALSE(storage().read_entries(5, 7).ok()) << "compacted";
  EXPECT_FALSE(storage().read_entries(9, 11).ok()) << "beyond the end";
  EXPECT_FALSE(storage().read_entries(8, 7).ok()) << "an empty range";
  Result<std::vector<pb::Entry>> read = storage().read_entries(6, 10);
  ASSERT_TRUE(read.ok()) << read.error().to_string();
  EXPECT_EQ(read.value().size(), 5u);
}

INSTANTIATE_TEST_SUITE_P(AllStorages, StorageConformance,
                         ::testing::Values(std::make_pair("InMemory", Factory([] {
                                                            return std::make_unique<InMemoryUnderTest>();
                                                          })),
                                           std::make_pair("RocksDb", Factory([] {
                                                            return std::make_unique<RocksDbUnderTest>();
                                                          }))),
                         [](const auto& test_param) { return std::string(test_param.param.first); });

// ----------------------------------------------- RocksDB: misuse and damage --

std::unique_ptr<RocksDbStorage> open_or_fail(const std::string& directory, StorageIdentity identity) {
  auto opened = RocksDbStorage::open(directory, identity);
  if (!opened.ok()) {
    ADD_FAILURE() << opened.error().to_string();
    return nullptr;
  }
  return std::move(opened).value();
}

std::string refusal(const std::string& directory, StorageIdentity identity) {
  auto opened = RocksDbStorage::open(directory, identity);
  if (opened.ok()) {
    Result<PersistentState> loaded = opened.value()->load();
    if (loaded.ok()) return "";
    return loaded.error().to_string();
  }
  return opened.error().to_string();
}

// Writes through RocksDB directly, as a bug, a bad disk or an operator might.
void tamper(const std::string& directory,
            const std::function<void(rocksdb::DB&, rocksdb::ColumnFamilyHandle* log,
                                     rocksdb::ColumnFamilyHandle* meta)>& change) {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Options options;
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, {}},
      {RocksDbStorage::kLogColumnFamily, {}},
      {RocksDbStorage::kMetaColumnFamily, {}},
  };
  ASSERT_TRUE(rocksdb::DB::Open(options, directory, families, &handles, &db).ok());
  change(*db, handles[1], handles[2]);
  for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
  delete db;
}

using storage_record::log_key;

class RocksDbDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    auto storage = open_or_fail(data_, kIdentity);
    ASSERT_NE(storage, nullptr);
    ASSERT_TRUE(storage->load().ok());
    const pb::HardState hard = hard_state(2, 1, 2);
    ASSERT_TRUE(storage->save(&hard, {entry(1, 1, "a"), entry(2, 2, "b"), entry(3, 2, "c")}, true).ok());
  }

  static constexpr StorageIdentity kIdentity{7, 1};
  TemporaryDirectory directory_;
  const std::string data_ = directory_.sub("data");
};

TEST_F(RocksDbDirectory, ReopensItsOwnData) {
  EXPECT_EQ(refusal(data_, kIdentity), "");
}

TEST_F(RocksDbDirectory, RefusesAnotherClustersDirectory) {
  const std::string message = refusal(data_, StorageIdentity{8, 1});
  EXPECT_NE(message.find(data_), std::string::npos) << message;
  EXPECT_NE(message.find("belongs to cluster 7, not cluster 8"), std::string::npos) << message;
}

TEST_F(RocksDbDirectory, RefusesAnotherNodesDirectory) {
  const std::string message = refusal(data_, StorageIdentity{7, 2});
  EXPECT_NE(message.find("belongs to node 1, not node 2"), std::string::npos) << message;
}

TEST_F(RocksDbDirectory, RefusesANewerFormatVersion) {
  tamper(data_, [](rocksdb::DB& db, auto*, rocksdb::ColumnFamilyHandle* meta) {
    // A valid record (checksum and all) holding version 2.
    const std::string record = storage_record::seal(storage_record::big_endian(2, 4));
    ASSERT_TRUE(db.Put({}, meta, "format_version", record).ok());
  });
  const std::string message = refusal(data_, kIdentity);
  EXPECT_NE(message.find("format version 2; this build reads up to 1"), std::string::npos) << message;
}

TEST_F(RocksDbDirectory, RefusesAGarbledLogRecord) {
  tamper(data_, [](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* log, auto*) {
    std::string value;
    ASSERT_TRUE(db.Get({}, log, log_key(2), &value).ok());
    value.back() ^= 0x40;  // one flipped bit in the payload
    ASSERT_TRUE(db.Put({}, log, log_key(2), value).ok());
  });
  const std::string message = refusal(data_, kIdentity);
  EXPECT_NE(message.find(data_), std::string::npos) << message;
  EXPECT_NE(message.find("log record at index 2 is corrupt"), std::string::npos) << message;
}

TEST_F(RocksDbDirectory, RefusesATruncatedLogRecord) {
  tamper(data_, [](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* log, auto*) {
    std::string value;
    ASSERT_TRUE(db.Get({}, log, log_key(3), &value).ok());
    ASSERT_TRUE(db.Put({}, log, log_key(3), value.substr(0, 3)).ok());
  });
  EXPECT_NE(refusal(data_, kIdentity).find("log record at index 3 is corrupt"), std::string::npos);
}

TEST_F(RocksDbDirectory, RefusesALogWithAGap) {
  tamper(data_, [](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* log, auto*) {
    ASSERT_TRUE(db.Delete({}, log, log_key(2)).ok());
  });
  EXPECT_NE(refusal(data_, kIdentity).find("log has a gap: index 2 is missing"), std::string::npos);
}

TEST_F(RocksDbDirectory, RefusesAGarbledHardState) {
  tamper(data_, [](rocksdb::DB& db, auto*, rocksdb::ColumnFamilyHandle* meta) {
    ASSERT_TRUE(db.Put({}, meta, "hard_state", "garbage!").ok());
  });
  EXPECT_NE(refusal(data_, kIdentity).find("hard state record is corrupt"), std::string::npos);
}

TEST_F(RocksDbDirectory, RefusesALogThatDoesNotStartAfterItsBase) {
  tamper(data_, [](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* log, auto*) {
    ASSERT_TRUE(db.Delete({}, log, log_key(1)).ok());  // as if compacted, without the base
  });
  EXPECT_NE(refusal(data_, kIdentity).find("log starts at index 2, expected 1"), std::string::npos);
}

TEST_F(RocksDbDirectory, RefusesASnapshotRecordThatDoesNotFitTheLog) {
  tamper(data_, [](rocksdb::DB& db, auto*, rocksdb::ColumnFamilyHandle* meta) {
    pb::SnapshotMetadata snapshot;
    snapshot.set_index(9);
    snapshot.set_term(2);
    ASSERT_TRUE(db.Put({}, meta, "snapshot", storage_record::seal(snapshot.SerializeAsString())).ok());
  });
  const std::string message = refusal(data_, kIdentity);
  EXPECT_NE(message.find("snapshot at index 9 does not fit the log"), std::string::npos) << message;
}

TEST_F(RocksDbDirectory, RefusesAGarbledSnapshotRecord) {
  tamper(data_, [](rocksdb::DB& db, auto*, rocksdb::ColumnFamilyHandle* meta) {
    ASSERT_TRUE(db.Put({}, meta, "snapshot", "garbage!").ok());
  });
  EXPECT_NE(refusal(data_, kIdentity).find("snapshot metadata record is corrupt"), std::string::npos);
}

TEST(RocksDbMemoryBudget, MemtablesStayWithinTheBudgetWhileTheLogGrowsPastIt) {
  TemporaryDirectory directory;
  auto memory = RocksDbMemory::create(8 << 20);
  auto opened = RocksDbStorage::open(directory.sub("data"), StorageIdentity{7, 1}, memory);
  ASSERT_TRUE(opened.ok()) << opened.error().to_string();
  RocksDbStorage& storage = *opened.value();
  ASSERT_TRUE(storage.load().ok());
  std::size_t largest = 0;
  const std::string payload(4096, 'p');
  for (Index first = 1; first <= 16384; first += 64) {  // 64 MiB of entries
    std::vector<pb::Entry> batch;
    for (Index index = first; index < first + 64; ++index) batch.push_back(entry(index, 1, payload));
    ASSERT_TRUE(storage.save(nullptr, batch, false).ok());
    largest = std::max(largest, memory->memtable_bytes());
  }
  EXPECT_GT(largest, 1u << 20) << "the memtables were used";
  EXPECT_LE(largest, memory->bytes() / 2 + (1 << 20))
      << "and flushed (writes waiting) before they outgrew their half";
  EXPECT_LE(memory->cache_bytes(), memory->bytes() + (1 << 20));
  Result<std::vector<pb::Entry>> read = storage.read_entries(100, 101);
  ASSERT_TRUE(read.ok()) << read.error().to_string();
  EXPECT_EQ(read.value()[1].data(), payload);
}

TEST(RocksDbStorageOpen, RefusesADirectoryThatIsNotARaftkvDatabase) {
  TemporaryDirectory directory;
  const std::string data = directory.sub("data");
  fs::create_directories(data);
  { std::ofstream(data + "/notes.txt") << "someone's files"; }
  const std::string message = refusal(data, StorageIdentity{7, 1});
  EXPECT_NE(message.find("holds no RocksDB database"), std::string::npos) << message;
  EXPECT_TRUE(fs::exists(data + "/notes.txt")) << "nothing of someone else's is touched";
}

TEST(RocksDbStorageOpen, CreatesMissingParentDirectories) {
  TemporaryDirectory directory;
  const std::string data = directory.sub("var/lib/raftkv/node-1");
  auto storage = open_or_fail(data, StorageIdentity{7, 1});
  ASSERT_NE(storage, nullptr);
  EXPECT_TRUE(storage->load().ok());
}

TEST(RocksDbStorageOpen, SaysWhyADirectoryCannotBeCreated) {
  TemporaryDirectory directory;
  { std::ofstream(directory.sub("file")) << "x"; }
  const std::string message = refusal(directory.sub("file/data"), StorageIdentity{7, 1});
  EXPECT_NE(message.find("cannot be created"), std::string::npos) << message;
}

TEST(RocksDbStorageOpen, RefusesAFileInPlaceOfTheDirectory) {
  TemporaryDirectory directory;
  const std::string data = directory.sub("data");
  { std::ofstream(data) << "a file"; }
  EXPECT_NE(refusal(data, StorageIdentity{7, 1}).find("is not a directory"), std::string::npos);
}

}  // namespace
}  // namespace raft
