// Snapshot files: one conformance suite for both SnapshotStores, and the
// file format's checks -- a damaged, cut-off or foreign snapshot is found
// before a state machine sees any of it.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "raft/file_snapshot_store.h"
#include "raft/in_memory_snapshot_store.h"
#include "raft/snapshot_file.h"
#include "tests/unit/temporary_directory.h"

namespace raft {
namespace {

namespace fs = std::filesystem;
using testing::TemporaryDirectory;

class StoreUnderTest {
 public:
  virtual ~StoreUnderTest() = default;
  virtual SnapshotStore& store() = 0;
};

class InMemoryStore final : public StoreUnderTest {
 public:
  SnapshotStore& store() override { return store_; }

 private:
  InMemorySnapshotStore store_;
};

class FileStore final : public StoreUnderTest {
 public:
  FileStore() : store_(FileSnapshotStore::open(directory_.sub("snapshots")).value()) {}
  SnapshotStore& store() override { return *store_; }

 private:
  TemporaryDirectory directory_;
  std::unique_ptr<FileSnapshotStore> store_;
};

using StoreFactory = std::function<std::unique_ptr<StoreUnderTest>()>;

class SnapshotStoreConformance : public ::testing::TestWithParam<std::pair<const char*, StoreFactory>> {
 protected:
  void SetUp() override { under_test_ = GetParam().second(); }
  SnapshotStore& store() { return under_test_->store(); }

  void write(Index index, const std::string& bytes) {
    auto writer = store().create(index);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer.value()->append(bytes).ok());
    ASSERT_TRUE(writer.value()->commit().ok());
  }

  std::unique_ptr<StoreUnderTest> under_test_;
};

TEST_P(SnapshotStoreConformance, ACommittedFileIsReadInRanges) {
  write(7, "abcdefghij");
  EXPECT_EQ(store().read(7, 0, 4).value(), "abcd");
  EXPECT_EQ(store().read(7, 8, 4).value(), "ij") << "fewer bytes at the end";
  EXPECT_EQ(store().read(7, 10, 4).value(), "");
  EXPECT_EQ(store().size(7).value(), 10u);
}

TEST_P(SnapshotStoreConformance, AFileIsInvisibleUntilCommittedAndGoneIfAbandoned) {
  {
    auto writer = store().create(3).value();
    ASSERT_TRUE(writer->append("partial").ok());
    EXPECT_FALSE(store().read(3, 0, 1).ok());
  }  // destroyed uncommitted, as by a crash
  EXPECT_FALSE(store().size(3).ok());
}

TEST_P(SnapshotStoreConformance, RemoveAllExceptKeepsOnlyTheLatest) {
  write(3, "old");
  write(9, "new");
  auto in_progress = store().create(12).value();  // a snapshot still being written survives
  ASSERT_TRUE(in_progress->append("x").ok());
  ASSERT_TRUE(store().remove_all_except(9).ok());
  EXPECT_FALSE(store().size(3).ok());
  EXPECT_EQ(store().read(9, 0, 3).value(), "new");
  ASSERT_TRUE(in_progress->commit().ok());
  EXPECT_EQ(store().read(12, 0, 1).value(), "x");
}

TEST_P(SnapshotStoreConformance, RemoveBeforeKeepsNewerSnapshots) {
  write(3, "old");
  write(9, "recorded");
  write(12, "written meanwhile");
  ASSERT_TRUE(store().remove_before(9).ok());
  EXPECT_FALSE(store().size(3).ok());
  EXPECT_TRUE(store().size(9).ok());
  EXPECT_TRUE(store().size(12).ok());
}

TEST_P(SnapshotStoreConformance, EncodedSnapshotsDecodeBlockForBlock) {
  pb::SnapshotMetadata header;
  header.set_index(42);
  header.set_term(5);
  header.mutable_configuration()->add_voters()->set_id(1);
  auto writer = store().create(42).value();
  snapshot_file::Encoder encoder(*writer, header);
  const std::vector<std::string> blocks = {"first", std::string(100000, 'b'), "last"};
  for (const std::string& block : blocks) ASSERT_TRUE(encoder.write(block).ok());
  const pb::SnapshotMetadata written = encoder.finish().value();
  ASSERT_TRUE(writer->commit().ok());
  EXPECT_EQ(written.size(), store().size(42).value());
  EXPECT_EQ(written.index(), 42u);

  ASSERT_TRUE(snapshot_file::verify(store(), written).ok());
  snapshot_file::Decoder decoder(store(), written);
  std::vector<std::string> read;
  std::string block;
  while (decoder.next(block).value()) read.push_back(block);
  EXPECT_EQ(read, blocks);
}

INSTANTIATE_TEST_SUITE_P(
    BothStores, SnapshotStoreConformance,
    ::testing::Values(std::make_pair("InMemory",
                                     StoreFactory([] { return std::make_unique<InMemoryStore>(); })),
                      std::make_pair("Files", StoreFactory([] { return std::make_unique<FileStore>(); }))),
    [](const auto& test_param) { return std::string(test_param.param.first); });

// ------------------------------------------------------- damage is caught --

class SnapshotFileDamage : public ::testing::Test {
 protected:
  void SetUp() override {
    header_.set_index(10);
    header_.set_term(2);
    auto writer = store_.create(10).value();
    snapshot_file::Encoder encoder(*writer, header_);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(encoder.write("block number " + std::to_string(i)).ok());
    snapshot_ = encoder.finish().value();
    ASSERT_TRUE(writer->commit().ok());
    bytes_ = store_.read(10, 0, snapshot_.size()).value();
  }
  // Replaces the stored file with `bytes` and says what verify() finds.
  std::string verify_with(const std::string& bytes, const pb::SnapshotMetadata& snapshot) {
    auto writer = store_.create(10).value();
    EXPECT_TRUE(writer->append(bytes).ok());
    EXPECT_TRUE(writer->commit().ok());
    const Status status = snapshot_file::verify(store_, snapshot);
    return status.ok() ? "" : status.error().message;
  }

  InMemorySnapshotStore store_;
  pb::SnapshotMetadata header_;
  pb::SnapshotMetadata snapshot_;
  std::string bytes_;
};

TEST_F(SnapshotFileDamage, AnIntactFilePasses) {
  EXPECT_EQ(verify_with(bytes_, snapshot_), "");
}

TEST_F(SnapshotFileDamage, EveryFlippedByteIsFound) {
  for (std::size_t at = 0; at < bytes_.size(); ++at) {
    std::string damaged = bytes_;
    damaged[at] ^= 0x01;
    EXPECT_NE(verify_with(damaged, snapshot_), "") << "flipped byte " << at << " went unnoticed";
  }
}

TEST_F(SnapshotFileDamage, ACutOffFileIsFound) {
  for (std::size_t length : {std::size_t{0}, std::size_t{5}, bytes_.size() / 2, bytes_.size() - 1}) {
    pb::SnapshotMetadata claimed = snapshot_;
    claimed.set_size(length);
    EXPECT_NE(verify_with(bytes_.substr(0, length), claimed), "") << "cut at " << length;
  }
}

TEST_F(SnapshotFileDamage, BytesAfterTheEndMarkAreFound) {
  pb::SnapshotMetadata claimed = snapshot_;
  claimed.set_size(bytes_.size() + 3);
  EXPECT_NE(verify_with(bytes_ + "xyz", claimed).find("end mark"), std::string::npos);
}

TEST_F(SnapshotFileDamage, AnotherSnapshotsFileIsFound) {
  pb::SnapshotMetadata other = snapshot_;
  other.set_term(3);
  EXPECT_NE(verify_with(bytes_, other).find("header does not name snapshot 10 at term 3"), std::string::npos);
}

TEST(FileSnapshotStore, LeftoversOfACrashAreRemovedAndCommittedFilesSurviveReopening) {
  TemporaryDirectory directory;
  const std::string path = directory.sub("snapshots");
  {
    auto store = FileSnapshotStore::open(path).value();
    auto writer = store->create(5).value();
    ASSERT_TRUE(writer->append("kept").ok());
    ASSERT_TRUE(writer->commit().ok());
  }
  { std::ofstream(path + "/incoming-9-0.tmp") << "half a snapshot"; }
  auto store = FileSnapshotStore::open(path).value();
  EXPECT_EQ(store->read(5, 0, 4).value(), "kept");
  ASSERT_TRUE(store->remove_all_except(5).ok());
  EXPECT_FALSE(fs::exists(path + "/incoming-9-0.tmp"));
  EXPECT_TRUE(fs::exists(store->path_of(5)));
}

}  // namespace
}  // namespace raft
