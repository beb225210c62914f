#include "tests/fault/snapshot_catch_up.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

namespace raftkv::fault {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// What raft::Server logs when it receives a snapshot from a leader.
constexpr char kInstallLine[] = "installing snapshot at index";

std::int64_t since(Clock::time_point origin) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - origin).count();
}

// Polls `condition` every 100 ms until it holds or `patience` runs out.
template <typename Condition>
bool wait_for(Condition condition, milliseconds patience) {
  const Clock::time_point deadline = Clock::now() + patience;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return true;
}

std::size_t installs_in(const std::string& log_path, std::uintmax_t from_byte) {
  std::ifstream log(log_path);
  log.seekg(static_cast<std::streamoff>(from_byte));
  std::size_t installs = 0;
  for (std::string line; std::getline(log, line);) installs += line.find(kInstallLine) != std::string::npos;
  return installs;
}

}  // namespace

FaultEvent catch_up_by_snapshot(FaultCluster& cluster, Clock::time_point origin,
                                std::vector<Violation>& violations) {
  FaultEvent event;
  event.start = since(origin);
  auto fail = [&](const std::string& why) {
    violations.push_back({Check::kCoverage, "catch-up by snapshot: " + why});
    event.what = "catch-up by snapshot: not exercised";
    event.end = since(origin);
    return event;
  };

  std::optional<int> leader;
  if (!wait_for([&] { return (leader = cluster.leader()).has_value(); }, milliseconds(10'000)))
    return fail("no leader within 10 s");
  // A follower that answers: one restarted by the last heal may still be
  // opening its data (after a power failure, recovering it).
  int follower = 0;
  std::optional<raftkv::api::StatusResponse> before;
  const bool found = wait_for(
      [&] {
        for (int member = 1; member <= cluster.members(); ++member) {
          if (member == *leader || !cluster.running(member) || cluster.paused(member)) continue;
          if ((before = cluster.status(member, milliseconds(500)))) {
            follower = member;
            return true;
          }
        }
        return false;
      },
      milliseconds(20'000));
  if (!found) return fail("no follower answered Status within 20 s");
  const std::uint64_t held = before->last_log_index();

  cluster.kill(follower);
  // The log must be compacted past the follower's last entry, on whoever
  // leads now, before it comes back.
  const bool compacted = wait_for(
      [&] {
        const std::optional<int> now_leading = cluster.leader();
        if (!now_leading) return false;
        const auto status = cluster.status(*now_leading, milliseconds(1000));
        return status && status->first_log_index() > held + 1;
      },
      milliseconds(60'000));
  if (!compacted) {
    cluster.start(follower);
    return fail("the leader's log was not compacted past index " + std::to_string(held) +
                " within 60 s of writes");
  }
  std::error_code ignored;
  const std::uintmax_t log_before = std::filesystem::file_size(cluster.log_path(follower), ignored);
  cluster.start(follower);
  if (!wait_for([&] { return installs_in(cluster.log_path(follower), log_before) > 0; },
                milliseconds(30'000))) {
    return fail("m" + std::to_string(follower) +
                ", behind the leader's compacted log, did not install a snapshot " +
                "within 30 s of its restart");
  }
  event.what = "catch-up by snapshot: m" + std::to_string(follower) + " (log to " + std::to_string(held) +
               ") restarted after the leader compacted past it, and installed a snapshot";
  event.end = since(origin);
  return event;
}

std::size_t count_snapshot_installs(const FaultCluster& cluster) {
  std::size_t installs = 0;
  for (int member = 1; member <= cluster.members(); ++member)
    installs += installs_in(cluster.log_path(member), 0);
  return installs;
}

}  // namespace raftkv::fault
