#include "tests/fault/run.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "tests/fault/cluster.h"
#include "tests/fault/final_state_check.h"
#include "tests/fault/membership_scenario.h"
#include "tests/fault/nemesis.h"
#include "tests/fault/report.h"
#include "tests/fault/snapshot_catch_up.h"
#include "tests/fault/workload.h"

namespace raftkv::fault {

using checker::Operation;
using checker::OpKind;
using checker::Outcome;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr char kProbeKey[] = "probe";

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%d-%H%M%S", std::localtime(&now));
  return text;
}

std::int64_t since(Clock::time_point origin) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - origin).count();
}

// Sleeps until `until`, or `end` if sooner.
void sleep_until(Clock::time_point until, Clock::time_point end) {
  std::this_thread::sleep_until(std::min(until, end));
}

// Check 3: once no more writes come, every member must reach the same
// applied index with the same digest.
void check_digests(RunRecord& record, FaultCluster& cluster) {
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
  std::map<int, raftkv::api::StateDigest> digests;
  while (true) {
    digests = cluster.state_digests(milliseconds(2000));
    std::set<std::uint64_t> indexes;
    for (const auto& [member, digest] : digests) indexes.insert(digest.applied_index());
    if (static_cast<int>(digests.size()) == cluster.running_members() && indexes.size() == 1) break;
    if (Clock::now() > deadline) {
      std::ostringstream text;
      text << "the members did not reach one applied index within 30 s after the workload stopped:";
      for (const auto& [member, digest] : digests) text << " m" << member << "@" << digest.applied_index();
      text << " (" << digests.size() << " of " << cluster.running_members() << " answered)";
      record.violations.push_back({Check::kStates, text.str()});
      return;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  std::ostringstream text;
  text << "state digests at applied index " << digests.begin()->second.applied_index() << ":";
  std::set<std::uint64_t> values;
  for (const auto& [member, digest] : digests) {
    text << " m" << member << "=" << std::hex << digest.digest() << std::dec << " (" << digest.keys()
         << " keys)";
    values.insert(digest.digest());
  }
  record.digest_summary = text.str();
  if (values.size() != 1)
    record.violations.push_back({Check::kStates, "the members' states differ: " + text.str()});
}

// A member that exited by itself: a crash the harness did not cause, or a
// start it refused (after a power failure, say); its last words say which.
void report_exits(RunRecord& record, FaultCluster& cluster, const std::vector<int>& exited) {
  for (int member : exited) {
    record.violations.push_back(
        {Check::kMemberExited, "member m" + std::to_string(member) + " exited by itself (" +
                                   cluster.how_it_exited(member) + "); the last line of nodes/m" +
                                   std::to_string(member) + ".log: " + cluster.last_log_line(member)});
  }
}

// Waits up to 30 s for the new cluster's first acknowledged write, giving
// up early when every member has exited (a cluster that cannot start).
bool wait_for_start(RunRecord& record, FaultCluster& cluster, Workload& workload) {
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    if (workload.probe_write(kProbeKey, std::min(deadline, Clock::now() + std::chrono::seconds(1))))
      return true;
    const std::vector<int> exited = cluster.reap_exited();
    report_exits(record, cluster, exited);
    if (cluster.running_members() == 0) {
      record.violations.push_back(
          {Check::kStart, "the new cluster acknowledged no write: every member exited"});
      return false;
    }
  }
  record.violations.push_back(
      {Check::kStart, "the new cluster acknowledged no write within 30 s of starting"});
  return false;
}

// The run proper, once the cluster took its first write: the clients, the
// faults (or the membership scenario), a catch-up by snapshot, the final
// reads and the checks that need the cluster.
void run_faults(RunRecord& record, FaultCluster& cluster, FaultNetwork& network, Workload& workload,
                Clock::time_point origin) {
  const RunOptions& options = record.options;
  workload.start();
  Nemesis nemesis(
      options.seed, cluster, network,
      options.power_loss_fs.empty() ? Nemesis::Mode::kCrashesPausesPartitions : Nemesis::Mode::kPowerLoss);
  const Clock::time_point end = options.membership ? origin : origin + options.duration;
  if (options.membership) {
    std::vector<std::string> failed_steps;
    record.faults = run_membership_scenario(cluster, origin, failed_steps);
    for (std::string& step : failed_steps) record.violations.push_back({Check::kMembership, std::move(step)});
  }
  while (record.passed() && Clock::now() < end) {
    sleep_until(Clock::now() + nemesis.quiet(), end);
    if (Clock::now() >= end) break;
    FaultEvent fault;
    fault.start = since(origin);
    fault.what = nemesis.inject();
    sleep_until(Clock::now() + nemesis.hold(), end);
    const std::vector<int> crashed = nemesis.heal();
    fault.end = since(origin);
    record.faults.push_back(fault);
    report_exits(record, cluster, crashed);
    const Clock::time_point healed = Clock::now();
    const bool recovered = workload.probe_write(kProbeKey, healed + options.recovery_bound);
    record.recoveries.push_back(std::chrono::duration_cast<milliseconds>(Clock::now() - healed));
    if (!recovered) {
      record.violations.push_back({Check::kRecovery, "no write was acknowledged within " +
                                                         std::to_string(options.recovery_bound.count()) +
                                                         " ms after healing: " + fault.what});
    }
  }
  // The membership scenario's replacement member catches up by snapshot
  // already; every other run does it here, under the clients' writes.
  if (record.passed() && !options.membership)
    record.faults.push_back(catch_up_by_snapshot(cluster, origin, record.violations));
  workload.stop();
  record.fault_counts = nemesis.counts();
  report_exits(record, cluster, cluster.reap_exited());

  // Every key once more, now that everything is healed.
  std::set<std::string> keys;
  for (const Operation& operation : workload.history()) keys.insert(operation.key);
  std::map<std::string, std::optional<std::string>> finals;
  for (const std::string& key : keys) {
    const auto value = workload.final_read(key, Clock::now() + std::chrono::seconds(10));
    if (!value) {
      record.violations.push_back(
          {Check::kFinalRead, "the final read of " + key + " did not succeed within 10 s"});
      continue;
    }
    finals[key] = *value;
  }
  record.history = workload.history();
  check_digests(record, cluster);
  for (const LostWrite& lost : find_lost_writes(record.history, finals)) {
    record.violations.push_back({Check::kLostWrite, lost.what});
    record.offending_keys.push_back(lost.key);
  }
  record.snapshot_installs = count_snapshot_installs(cluster);
  if (record.passed() && record.snapshot_installs == 0) {
    record.violations.push_back({Check::kCoverage, "no member caught up by InstallSnapshot in this run"});
  }
}

}  // namespace

std::string summary(const RunRecord& record) {
  std::size_t ok = 0, failed = 0, unknown = 0;
  for (const Operation& operation : record.history) {
    (operation.outcome == Outcome::kOk ? ok : operation.outcome == Outcome::kFailed ? failed : unknown)++;
  }
  milliseconds longest{0};
  for (milliseconds recovery : record.recoveries) longest = std::max(longest, recovery);
  std::ostringstream text;
  text << "seed " << record.options.seed << ": " << record.history.size() << " operations (" << ok << " ok, "
       << failed << " failed, " << unknown << " unknown), " << record.faults.size() << " faults, "
       << record.snapshot_installs << " snapshot installs, slowest recovery " << longest.count()
       << " ms, checked in " << record.check_time.count() << " ms: "
       << (record.passed() ? "PASS" : "FAIL (" + std::to_string(record.violations.size()) + " violations)");
  return text.str();
}

RunRecord run_once(const RunOptions& options, FaultNetwork& network) {
  RunRecord record;
  record.options = options;
  record.folder = options.results_root + "/seed-" + std::to_string(options.seed) + "-" + timestamp();
  std::filesystem::remove_all(record.folder);
  std::filesystem::create_directories(record.folder + "/nodes");
  const Clock::time_point origin = Clock::now();
  {
    network.heal();
    ClusterOptions cluster_options;
    cluster_options.raftkvd = options.raftkvd;
    cluster_options.data_root = record.folder + "/data";
    cluster_options.log_directory = record.folder + "/nodes";
    cluster_options.power_loss_fs = options.power_loss_fs;
    cluster_options.power_seed = options.seed;
    if (options.membership) {
      cluster_options.members = kScenarioMembers;
      cluster_options.founders = kScenarioFounders;
    }
    FaultCluster cluster(cluster_options, network);
    std::vector<std::string> addresses;
    for (int member = 1; member <= cluster.members(); ++member) {
      if (!options.membership || member <= kScenarioFounders) cluster.start(member);
      addresses.push_back(FaultCluster::client_address(member));
    }
    WorkloadOptions workload_options;
    workload_options.clients = options.clients;
    workload_options.serializable_reads = options.serializable_reads;
    workload_options.seed = options.seed;
    Workload workload(workload_options, addresses, origin);
    if (wait_for_start(record, cluster, workload)) {
      run_faults(record, cluster, network, workload, origin);
    } else {
      record.history = workload.history();
    }
  }

  const Clock::time_point checking = Clock::now();
  record.verdict = checker::check_linearizable(record.history);
  record.check_time = std::chrono::duration_cast<milliseconds>(Clock::now() - checking);
  for (const checker::KeyVerdict& key : record.verdict.keys) {
    if (key.linearizable) continue;
    record.violations.push_back(
        key.gave_up ? Violation{Check::kCheckerComplete, "the checker gave up on key " + key.key}
                    : Violation{Check::kLinearizable, "key " + key.key + " is not linearizable"});
    record.offending_keys.push_back(key.key);
  }
  std::sort(record.offending_keys.begin(), record.offending_keys.end());
  record.offending_keys.erase(std::unique(record.offending_keys.begin(), record.offending_keys.end()),
                              record.offending_keys.end());

  // Hundreds of MB of RocksDB files; the members' logs and the history
  // are what a person reads.
  std::filesystem::remove_all(record.folder + "/data");
  if (record.passed() && !options.keep) {
    std::filesystem::remove_all(record.folder);
  } else {
    write_report(record);
  }
  return record;
}

}  // namespace raftkv::fault
