// A data directory written by an earlier release, opened by this one: the
// checked-in fixtures (tests/fixtures/data-dir-format-N, made by
// make-data-dir-fixture.sh) hold a compacted Raft log, a snapshot file and
// the key-value store as that release wrote them. This build must check
// each as sound (raftkv-check), start a member on it, serve exactly what it
// held, take new writes and start again. A change of format therefore
// ships a migration -- or a refusal that names the format and what to do,
// with this test changed to expect it.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/process_cluster.h"
#include "tests/integration/read_file.h"
#include "tests/integration/run_command.h"

namespace raftkv {
namespace {

using namespace std::chrono_literals;
using raft::testing::read_file;
using raft::testing::run_command;

class OldDataDirectory : public ProcessCluster, public ::testing::WithParamInterface<const char*> {
 protected:
  std::string fixture() const { return std::string(RAFTKV_SOURCE_DIR) + "/tests/fixtures/" + GetParam(); }

  // kvctl against member 1; its exit status and output.
  std::pair<int, std::string> kvctl(const std::string& arguments) {
    return run_command(std::string(KVCTL) + " --endpoints " + client_[1] + " " + arguments,
                       scratch_.sub("kvctl.out"), 30s);
  }
};

TEST_P(OldDataDirectory, OpensAndServesWhatItHeld) {
  // A copy: opening a directory writes to it.
  std::filesystem::copy(fixture() + "/data", scratch_.sub("node-1"),
                        std::filesystem::copy_options::recursive);
  const std::string expected = read_file(fixture() + "/expected.txt");
  ASSERT_FALSE(expected.empty());

  const auto [checked, report] = run_command(
      std::string(RAFTKV_CHECK) + " --data-dir " + scratch_.sub("node-1") + " --cluster-id 9 --id 1",
      scratch_.sub("check.out"), 30s);
  EXPECT_EQ(checked, 0) << report;

  start_cluster(1);
  ASSERT_EQ(leader({1}), 1u) << read_file(log(1));
  const auto [status, held] = kvctl("get key- --prefix");
  EXPECT_EQ(status, 0) << held;
  EXPECT_EQ(held, expected) << "the member does not serve what the directory held";

  ASSERT_TRUE(put(1, "written-by-this-build", "yes").ok());
  processes_.clear();  // killed; started again on the same directory
  start(1);
  ASSERT_EQ(leader({1}), 1u) << read_file(log(1));
  EXPECT_EQ(get(1, "written-by-this-build"), "yes");
  const auto [again, held_again] = kvctl("get key- --prefix");
  EXPECT_EQ(held_again, expected);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, OldDataDirectory, ::testing::Values("data-dir-format-1"));

}  // namespace
}  // namespace raftkv
