// raftkvd's Prometheus endpoint on real processes: scraped over HTTP, every
// scrape valid by promtool (Debian's prometheus package), and the numbers
// right -- one leader, writes counted where they were proposed, calls by
// method and status code, snapshots taken and installed.

#include <httplib.h>

#include <cstdio>
#include <fstream>
#include <regex>

#include "tests/integration/process_cluster.h"
#include "tests/integration/raw_call.h"
#include "tests/integration/read_file.h"

namespace raftkv {
namespace {

using namespace std::chrono_literals;
using raft::testing::eventually;
using raft::testing::read_file;

class Metrics : public ProcessCluster {
 protected:
  void start_with_metrics(int size, const std::string& flags = "") {
    member_flags_ = [this](int id) {
      metrics_port_[id] = raft::testing::free_port();
      return "--listen-metrics 127.0.0.1:" + std::to_string(metrics_port_[id]);
    };
    start_cluster(size, flags);
  }

  // The endpoint's text; "" if it did not answer 200.
  std::string scrape(int id) {
    httplib::Client client("127.0.0.1", metrics_port_[id]);
    client.set_connection_timeout(2);
    auto response = client.Get("/metrics");
    if (!response || response->status != 200) return "";
    EXPECT_EQ(response->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    return response->body;
  }

  // promtool's verdict on the text: "" when it passes, else what it said.
  std::string promtool_problems(const std::string& text) {
    const std::string input = scratch_.sub("scrape.txt");
    const std::string output = scratch_.sub("promtool.txt");
    std::ofstream(input) << text;
    const int status = std::system(("promtool check metrics < " + input + " > " + output + " 2>&1").c_str());
    if (status == 0) return "";
    return "promtool exit status " + std::to_string(status) + ": " + read_file(output);
  }

  // The value of the sample `name` (with its labels, exactly as written,
  // e.g. `raftkv_term` or `x{a="b"}`); -1 if absent.
  static double value(const std::string& text, const std::string& sample) {
    std::size_t at = 0;
    while ((at = text.find(sample + " ", at)) != std::string::npos) {
      if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + sample.size() + 1));
      at += sample.size();
    }
    return -1;
  }

  std::map<int, int> metrics_port_;
};

TEST_F(Metrics, EveryMemberServesValidPrometheusTextWithTheRightNumbers) {
  const double started =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  start_with_metrics(3, "--snapshot-entries 200 --compaction-margin 50");
  const std::uint64_t leader_id = leader({1, 2, 3});
  ASSERT_NE(leader_id, 0u) << read_file(log(1));
  const int leader_member = static_cast<int>(leader_id);
  const int follower = leader_member % 3 + 1;
  const int other = follower % 3 + 1;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(put(1 + i % 3, "key-" + std::to_string(i), "v").ok());
  EXPECT_EQ(put(follower, "", "no key").error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Member `other` misses a stretch longer than the log keeps: it catches up
  // from a snapshot, and counts the install.
  processes_[other].reset();
  for (int i = 100; i < 600; ++i) ASSERT_TRUE(put(leader_member, "key-" + std::to_string(i), "v").ok());
  start(other);
  ASSERT_TRUE(eventually([&] { return value(scrape(other), "raftkv_snapshots_installed_total") >= 1; }, 20s))
      << scrape(other) << read_file(log(other));
  // Restarted after the last write, it may have synced nothing yet (the
  // snapshot covers everything): one more write reaches its disk.
  ASSERT_TRUE(put(leader_member, "after-the-restart", "v").ok());
  ASSERT_TRUE(
      eventually([&] { return value(scrape(other), "raftkv_disk_sync_duration_seconds_count") > 0; }, 20s))
      << scrape(other);

  double leaders = 0;
  double puts_ok = 0;
  for (int id = 1; id <= 3; ++id) {
    const std::string text = scrape(id);
    ASSERT_FALSE(text.empty()) << "member " << id << " did not answer";
    EXPECT_EQ(promtool_problems(text), "") << text;
    leaders += value(text, "raftkv_is_leader");
    puts_ok +=
        std::max(0.0, value(text, "raftkv_grpc_requests_total{method=\"/raftkv.api.KV/Put\",code=\"OK\"}"));
    EXPECT_EQ(value(text, "raftkv_member_info{cluster_id=\"9\",member_id=\"" + std::to_string(id) + "\"}"),
              1);
    EXPECT_GT(value(text, "raftkv_term"), 0);
    EXPECT_GE(value(text, "raftkv_applied_index"), 1);
    EXPECT_GE(value(text, "raftkv_cluster_commit_index"), value(text, "raftkv_commit_index"));
    EXPECT_GT(value(text, "raftkv_data_bytes"), 0);
    EXPECT_GE(value(text, "raftkv_leader_changes_total"), 1);
    EXPECT_GT(value(text, "raftkv_disk_sync_duration_seconds_count"), 0);
    EXPECT_EQ(value(text, "raftkv_build_info{version=\"" RAFTKV_VERSION "\"}"), 1);
    // The standard process metrics: this process, now.
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    // To the second (the kernel's boot time is whole seconds): printed with
    // nine digits, the time was rounded to ten seconds.
    EXPECT_GE(value(text, "process_start_time_seconds"), started - 1) << "started within the test";
    EXPECT_LE(value(text, "process_start_time_seconds"), now + 1);
    EXPECT_GT(value(text, "process_cpu_seconds_total"), 0);
    EXPECT_GT(value(text, "process_resident_memory_bytes"), 1 << 20);
    EXPECT_GE(value(text, "process_virtual_memory_bytes"), value(text, "process_resident_memory_bytes"));
    EXPECT_GT(value(text, "process_open_fds"), 3);
    EXPECT_GE(value(text, "process_max_fds"), value(text, "process_open_fds"));
  }
  EXPECT_EQ(leaders, 1);
  // Each acknowledged put is one OK call where the client sent it; those a
  // follower forwarded count again on the leader.
  EXPECT_GE(puts_ok, 601);

  const std::string text = scrape(leader_member);
  // Proposals are counted where they are proposed: on the leader.
  EXPECT_GE(value(text, "raftkv_proposals_committed_total"), 601);
  EXPECT_EQ(value(text, "raftkv_proposal_duration_seconds_count"),
            value(text, "raftkv_proposals_committed_total") + value(text, "raftkv_proposals_failed_total"));
  EXPECT_EQ(value(text, "raftkv_proposal_duration_seconds_bucket{le=\"+Inf\"}"),
            value(text, "raftkv_proposal_duration_seconds_count"));
  EXPECT_GE(value(text, "raftkv_snapshots_taken_total"), 2);
  EXPECT_GT(value(text, "raftkv_snapshot_take_duration_seconds_count"), 0);
  // Every committed put reached the followers in some AppendEntries, each
  // carrying at least one entry.
  EXPECT_GE(value(text, "raftkv_entries_sent_total"), 601);
  EXPECT_GE(value(text, "raftkv_append_entries_sent_total"), 1);
  EXPECT_LE(value(text, "raftkv_append_entries_sent_total"), value(text, "raftkv_entries_sent_total"));
  EXPECT_GE(value(text, "raftkv_follower_match_index{follower_id=\"" + std::to_string(follower) + "\"}"),
            600);
  EXPECT_EQ(value(scrape(follower),
                  "raftkv_grpc_requests_total{method=\"/raftkv.api.KV/Put\",code=\"INVALID_ARGUMENT\"}"),
            1);
  // Calls to methods nobody serves are one series, whatever names the
  // clients asked for.
  EXPECT_EQ(raft::testing::raw_call(client_[follower], "/no.Such/Method", "").error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(raft::testing::raw_call(client_[follower], "/raftkv.api.KV/Watch", "").error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  const std::string after_unknown = scrape(follower);
  EXPECT_EQ(value(after_unknown, "raftkv_grpc_requests_total{method=\"unknown\",code=\"UNIMPLEMENTED\"}"), 2);
  EXPECT_EQ(after_unknown.find("no.Such"), std::string::npos);
  EXPECT_EQ(after_unknown.find("KV/Watch"), std::string::npos);

  httplib::Client client("127.0.0.1", metrics_port_[1]);
  auto missing = client.Get("/nothing-here");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(Metrics, AMetricsAddressThatCannotBeUsedStopsTheMemberWithOneLine) {
  const int busy = raft::testing::free_port();
  httplib::Server holder;
  ASSERT_TRUE(holder.bind_to_port("127.0.0.1", busy));
  for (const auto& [address, expected] : std::vector<std::pair<std::string, std::string>>{
           {"127.0.0.1:" + std::to_string(busy), "a bad or busy address"},
           {"127.0.0.1", "give HOST:PORT"},
           {"127.0.0.1:http", "the port is not a number"}}) {
    const std::string out = scratch_.sub("out.txt");
    raft::testing::ChildProcess process(
        {"/bin/sh", "-c",
         "exec " + std::string(RAFTKVD) + " --id 1 --data-dir " + scratch_.sub("d") +
             " --listen-peer 127.0.0.1:" + std::to_string(raft::testing::free_port()) +
             " --listen-client 127.0.0.1:" + std::to_string(raft::testing::free_port()) +
             " --peers 1=127.0.0.1:1 --listen-metrics " + address + " >" + out + " 2>&1"});
    EXPECT_EQ(process.wait_exit(10s), 1) << address;
    const std::string output = read_file(out);
    EXPECT_NE(output.find("raftkvd: cannot serve metrics on " + address + ": " + expected), std::string::npos)
        << output;
  }
}

}  // namespace
}  // namespace raftkv
