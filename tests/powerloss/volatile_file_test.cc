// VolatileFile, the page cache of the power-loss file system, on real
// backing files: what a program reads, what sync() makes durable, and what
// a power failure may leave -- never less than what was synced, never a
// byte that was not written.

#include "tests/powerloss/volatile_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/unit/temporary_directory.h"

namespace raftkv::powerloss {
namespace {

class VolatileFileTest : public ::testing::Test {
 protected:
  // A backing file holding `content`, and a VolatileFile over it.
  std::unique_ptr<VolatileFile> open(const std::string& content = "") {
    path_ = directory_.path() + "/file";
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << content;
    const int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    return std::make_unique<VolatileFile>(fd);
  }

  std::string durable() const {
    std::ifstream in(path_, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
  }

  static std::string read_all(const VolatileFile& file) {
    std::string content(file.size(), '?');
    EXPECT_EQ(file.read(content.data(), content.size(), 0), static_cast<ssize_t>(content.size()));
    return content;
  }

  raft::testing::TemporaryDirectory directory_;
  std::string path_;
};

TEST_F(VolatileFileTest, AProgramReadsWhatItWroteBeforeAnySync) {
  auto file = open("durable bytes");
  ASSERT_EQ(file->write("DUR", 3, 0), 3);
  ASSERT_EQ(file->write("!!", 2, 13), 2);
  EXPECT_EQ(read_all(*file), "DURable bytes!!");
  EXPECT_EQ(durable(), "durable bytes") << "nothing reaches the disk before a sync";
}

TEST_F(VolatileFileTest, SyncMakesEveryChangeDurable) {
  auto file = open(std::string(10000, 'a'));
  const std::string middle(5000, 'b');
  ASSERT_EQ(file->write(middle.data(), middle.size(), 3000), 5000);
  ASSERT_EQ(file->write("tail", 4, 20000), 4);
  ASSERT_EQ(file->sync(), 0);
  std::string expected = std::string(3000, 'a') + middle + std::string(2000, 'a');
  expected += std::string(10000, '\0') + "tail";
  EXPECT_EQ(durable(), expected);
  EXPECT_EQ(read_all(*file), expected);
  EXPECT_EQ(file->volatile_pages(), 0u);
}

TEST_F(VolatileFileTest, ATruncationIsVolatileAndGrowingAgainReadsZeros) {
  auto file = open(std::string(9000, 'x'));
  ASSERT_EQ(file->truncate(100), 0);
  EXPECT_EQ(file->size(), 100u);
  ASSERT_EQ(file->truncate(5000), 0);
  EXPECT_EQ(read_all(*file), std::string(100, 'x') + std::string(4900, '\0'))
      << "bytes cut off and grown back read as zeros, not as the old ones";
  EXPECT_EQ(durable(), std::string(9000, 'x'));
  ASSERT_EQ(file->sync(), 0);
  EXPECT_EQ(durable(), std::string(100, 'x') + std::string(4900, '\0'));
}

TEST_F(VolatileFileTest, ATruncationInsideAWrittenPageClearsTheRestOfIt) {
  auto file = open();
  const std::string page(4096, 'p');
  ASSERT_EQ(file->write(page.data(), page.size(), 0), 4096);
  ASSERT_EQ(file->truncate(10), 0);
  ASSERT_EQ(file->truncate(4096), 0);
  EXPECT_EQ(read_all(*file), std::string(10, 'p') + std::string(4086, '\0'));
}

TEST_F(VolatileFileTest, PowerLossNeverLosesWhatWasSyncedNorInventsBytes) {
  // Over many power failures: the disk holds the synced content, and each
  // byte after it is either the synced byte, the unsynced one or a zero
  // (a hole where a page was never written back).
  int kept_something = 0, kept_nothing = 0;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    auto file = open();
    const std::string synced(6000, 's');
    ASSERT_EQ(file->write(synced.data(), synced.size(), 0), 6000);
    ASSERT_EQ(file->sync(), 0);
    const std::string unsynced(20000, 'u');
    ASSERT_EQ(file->write(unsynced.data(), unsynced.size(), 4000), 20000);
    std::mt19937_64 random(seed);
    const PowerLossReport report = file->lose_power(random);
    EXPECT_EQ(report.volatile_pages, 6u);
    file.reset();
    const std::string after = durable();
    ASSERT_GE(after.size(), 6000u) << "seed " << seed;
    ASSERT_LE(after.size(), 24000u) << "seed " << seed;
    for (std::size_t i = 0; i < after.size(); ++i) {
      const bool allowed = after[i] == 'u'   ? i >= 4000
                           : after[i] == 's' ? i < 6000
                                             : after[i] == '\0' && i >= 6000;
      ASSERT_TRUE(allowed) << "seed " << seed << ": byte " << i << " is '" << after[i] << "'";
    }
    (report.kept_pages > 0 ? kept_something : kept_nothing)++;
  }
  EXPECT_GT(kept_nothing, 50) << "often nothing unsynced survives";
  EXPECT_GT(kept_something, 50) << "and often some of it does";
}

TEST_F(VolatileFileTest, PowerLossCanTearAPageAtASectorBoundary) {
  int torn = 0;
  for (std::uint64_t seed = 1; seed <= 200 && torn == 0; ++seed) {
    auto file = open();
    const std::string page(4096, 'w');
    ASSERT_EQ(file->write(page.data(), page.size(), 0), 4096);
    std::mt19937_64 random(seed);
    const PowerLossReport report = file->lose_power(random);
    file.reset();
    if (report.torn_pages == 0) continue;
    ++torn;
    const std::string after = durable();
    EXPECT_EQ(after.size() % kSectorBytes, 0u);
    EXPECT_LT(after.size(), kPageBytes);
    EXPECT_EQ(after, std::string(after.size(), 'w'));
  }
  EXPECT_EQ(torn, 1) << "some seed tears the page";
}

}  // namespace
}  // namespace raftkv::powerloss
