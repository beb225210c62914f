// fault_run: the fault harness's command line. Runs one seed, several, or
// a soak of many, each on a fresh five-member cluster (run.h), and prints a
// line per run and the totals. Exit 0 when every run passed, 1 when any
// found a violation (its results folder is printed), 2 when the harness
// could not run.
//
//   fault_run --raftkvd build/daemon/raftkvd --seed 7 --duration 60
//   fault_run --raftkvd build/daemon/raftkvd --soak-minutes 60
//   fault_run --raftkvd build/daemon/raftkvd --power-loss-fs build/tests/powerloss/power_loss_fs

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "tests/fault/membership_scenario.h"
#include "tests/fault/network.h"
#include "tests/fault/run.h"
#include "tests/powerloss/power_loss_mount.h"

int main(int argc, char** argv) {
  using namespace raftkv::fault;
  RunOptions options;
  options.results_root = "/tmp/raftkv-fault-results";
  int duration_seconds = 60;
  int seeds = 1;
  int soak_minutes = 0;
  bool expect_stale_reads = false;
  CLI::App app{"fault_run: five raftkvd under crashes, pauses and partitions, checked for linearizability"};
  app.add_option("--raftkvd", options.raftkvd, "the raftkvd binary")->required()->check(CLI::ExistingFile);
  app.add_option("--seed", options.seed, "the first seed")->capture_default_str();
  app.add_option("--duration", duration_seconds, "seconds of faults per run")
      ->check(CLI::Range(5, 3600))
      ->capture_default_str();
  app.add_option("--seeds", seeds, "runs, with consecutive seeds")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--soak-minutes", soak_minutes,
                 "instead of --seeds: consecutive seeds until this much time passed")
      ->check(CLI::Range(1, 7 * 24 * 60));
  app.add_option("--results", options.results_root, "where each run's folder goes")->capture_default_str();
  app.add_option("--clients", options.clients, "concurrent clients")
      ->check(CLI::Range(1, 200))
      ->capture_default_str();
  app.add_flag("--keep", options.keep, "keep the folders of runs that passed too");
  app.add_flag("--serializable-reads", options.serializable_reads,
               "clients read without linearizability (a known-bad setup the checks must catch)");
  app.add_flag("--membership", options.membership,
               "instead of faults, change the membership under the load: grow 3 to 5 members, replace a "
               "killed one, shrink to 3 (tests/fault/membership_scenario.h)");
  app.add_option(
         "--power-loss-fs", options.power_loss_fs,
         "members keep their data on this power_loss_fs binary's file system, and the faults are power "
         "failures that lose what a member had not synced")
      ->check(CLI::ExistingFile);
  app.add_flag(
      "--expect-stale-reads", expect_stale_reads,
      "with --serializable-reads: exit 0 only if every run proved a stale read and found nothing else "
      "wrong (to test the harness itself)");
  CLI11_PARSE(app, argc, argv);
  options.duration = std::chrono::seconds(duration_seconds);

  if (const std::string missing = FaultNetwork::missing_prerequisite(); !missing.empty()) {
    std::cerr << "fault_run: " << missing << "\n";
    return 2;
  }
  if (const std::string missing = raftkv::powerloss::PowerLossMount::missing_prerequisite();
      !options.power_loss_fs.empty() && !missing.empty()) {
    std::cerr << "fault_run: " << missing << "\n";
    return 2;
  }
  std::optional<FaultNetwork> network;
  try {
    // What a harness that was killed left behind: its namespaces, and its
    // members' data (a finished run always deletes that).
    FaultNetwork::remove_stale_namespaces();
    raftkv::powerloss::PowerLossMount::detach_stale_mounts(options.results_root);
    std::error_code ignored;
    for (const auto& run : std::filesystem::directory_iterator(options.results_root, ignored)) {
      std::filesystem::remove_all(run.path() / "data", ignored);
    }
    network.emplace(options.membership ? kScenarioMembers : 5);
    network->enter_hub();  // before any thread: gRPC's inherit the namespace
  } catch (const std::exception& error) {
    std::cerr << "fault_run: cannot make the test network: " << error.what() << "\n";
    return 2;
  }

  const auto started = std::chrono::steady_clock::now();
  const auto soak_end = started + std::chrono::minutes(soak_minutes);
  int runs = 0, failed_runs = 0, unproven_runs = 0;
  std::size_t operations = 0, acknowledged = 0, faults = 0;
  std::map<std::string, int> fault_counts;
  for (std::uint64_t seed = options.seed;; ++seed) {
    if (soak_minutes > 0 ? std::chrono::steady_clock::now() >= soak_end : runs >= seeds) break;
    RunOptions run = options;
    run.seed = seed;
    RunRecord record;
    try {
      record = run_once(run, *network);
    } catch (const std::exception& error) {
      std::cerr << "fault_run: seed " << seed << ": the harness failed: " << error.what() << "\n";
      return 2;
    }
    ++runs;
    operations += record.history.size();
    for (const auto& operation : record.history) {
      acknowledged += operation.outcome == raftkv::checker::Outcome::kOk &&
                      operation.kind != raftkv::checker::OpKind::kRead;
    }
    faults += record.faults.size();
    for (const auto& [kind, count] : record.fault_counts) fault_counts[kind] += count;
    std::cout << summary(record) << "\n";
    for (const Violation& violation : record.violations)
      std::cout << "  VIOLATION: " << violation.what << "\n";
    if (expect_stale_reads) {
      const std::string problem = stale_read_proof_problem(record.violations, record.verdict);
      std::cout << "  known-bad run: " << (problem.empty() ? "a stale read was proven, as expected" : problem)
                << "\n";
      unproven_runs += problem.empty() ? 0 : 1;
    }
    if (!record.passed()) {
      ++failed_runs;
      std::cout << "  results: " << record.folder << "\n";
    } else if (options.keep) {
      std::cout << "  kept: " << record.folder << "\n";
    }
    std::cout.flush();
  }
  const auto minutes =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  std::cout << "total: " << runs << " runs in " << minutes.count() << " s, " << operations << " operations ("
            << acknowledged << " acknowledged writes), " << faults << " faults:";
  for (const auto& [kind, count] : fault_counts) std::cout << " " << kind << " " << count << ";";
  std::cout << " " << failed_runs << " runs with violations\n";
  if (expect_stale_reads) return unproven_runs == 0 ? 0 : 1;
  return failed_runs == 0 ? 0 : 1;
}
