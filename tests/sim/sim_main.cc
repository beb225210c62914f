// raft_sim: runs the deterministic simulation for one seed, a range of seeds,
// or as a soak for a given time. A failing seed is printed with the command
// that replays it alone.
//
//   raft_sim --seed 1234 [--verbose]     replay one seed, tracing events
//   raft_sim --seeds 1..2000             CI's range
//   raft_sim --soak 3600 [--seeds 1..]   run consecutive seeds for an hour

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tests/sim/simulation.h"

namespace {

int usage(const char* problem) {
  std::cerr << "raft_sim: " << problem << "\n"
            << "usage: raft_sim (--seed N | --seeds A..B) [--nodes 3|5] [--soak SECONDS] [--verbose]\n";
  return 2;
}

// The seed being run, for the abort handler: an assertion of the core that
// fires must still name its seed, so that it can be replayed.
volatile std::sig_atomic_t running_seed_high = 0;
volatile std::sig_atomic_t running_seed_low = 0;

void report_abort(int) {
  // Only async-signal-safe calls here: format the seed by hand, write(2).
  const std::uint64_t seed =
      (static_cast<std::uint64_t>(static_cast<std::uint32_t>(running_seed_high)) << 32) |
      static_cast<std::uint32_t>(running_seed_low);
  char digits[24];
  int length = 0;
  std::uint64_t rest = seed;
  do {
    digits[length++] = static_cast<char>('0' + rest % 10);
    rest /= 10;
  } while (rest != 0);
  char line[160];
  int at = 0;
  auto append = [&](const char* text) {
    while (*text != '\0') line[at++] = *text++;
  };
  auto append_seed = [&] {
    for (int i = length; i > 0; --i) line[at++] = digits[i - 1];
  };
  append("ABORTED seed ");
  append_seed();
  append(" (an assertion failed); replay: raft_sim --seed ");
  append_seed();
  append(" --verbose\n");
  (void)!write(STDOUT_FILENO, line, static_cast<std::size_t>(at));
  std::signal(SIGABRT, SIG_DFL);
  std::raise(SIGABRT);
}

}  // namespace

int main(int argc, char** argv) {
  using raft::sim::parse_seed_range;
  std::uint64_t first = 1;
  std::uint64_t last = 100;
  std::size_t nodes = 0;
  double soak_seconds = 0;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if ((arg == "--seed" || arg == "--seeds") && has_value) {
      const std::string value = argv[++i];
      auto range = parse_seed_range(value);
      if (!range && arg == "--seeds" && value.ends_with("..")) {
        range = parse_seed_range(value + std::to_string(UINT64_MAX));
      }
      if (!range) return usage(("bad seed or range: " + value).c_str());
      std::tie(first, last) = *range;
    } else if (arg == "--nodes" && has_value) {
      nodes = std::strtoul(argv[++i], nullptr, 10);
      if (nodes != 3 && nodes != 5) return usage("--nodes must be 3 or 5");
    } else if (arg == "--soak" && has_value) {
      soak_seconds = std::strtod(argv[++i], nullptr);
      if (soak_seconds <= 0) return usage("--soak needs a positive number of seconds");
    } else if (arg == "--verbose") {
      verbose = true;
    } else {
      return usage(("unknown argument: " + arg).c_str());
    }
  }

  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::uint64_t runs = 0, steps = 0, crashes = 0, partitions = 0, committed = 0, reads = 0,
                client_operations = 0;
  std::uint64_t snapshots_taken = 0, snapshots_installed = 0, snapshots_damaged = 0, payloads_filled = 0;
  std::uint64_t slowest_liveness = 0;
  std::uint64_t membership_changes = 0, membership_refusals = 0;
  double next_progress = 60;
  std::signal(SIGABRT, report_abort);
  for (std::uint64_t seed = first;; ++seed) {
    running_seed_high = static_cast<std::sig_atomic_t>(seed >> 32);
    running_seed_low = static_cast<std::sig_atomic_t>(seed & 0xffffffffU);
    raft::sim::SimulationOptions options;
    options.seed = seed;
    options.nodes = nodes;
    options.verbose = verbose;
    const raft::sim::SimulationResult result = raft::sim::Simulation(options).run();
    ++runs;
    steps += result.steps;
    crashes += result.crashes;
    partitions += result.partitions;
    committed += result.committed_entries;
    reads += result.reads_served;
    client_operations += result.client_operations;
    snapshots_taken += result.snapshots_taken;
    snapshots_installed += result.snapshots_installed;
    snapshots_damaged += result.snapshots_damaged;
    payloads_filled += result.payloads_filled;
    membership_changes += result.membership_changes;
    membership_refusals += result.membership_refusals;
    slowest_liveness = std::max(slowest_liveness, result.liveness_time);
    if (!result.passed) {
      std::cout << "FAILED seed " << seed << " (" << result.nodes << " nodes): " << result.failure << "\n"
                << "replay: raft_sim --seed " << seed << " --verbose\n";
      return 1;
    }
    if (seed == last) break;
    if (soak_seconds > 0 && elapsed() >= soak_seconds) break;
    if (soak_seconds > 0 && elapsed() >= next_progress) {
      next_progress += 60;
      std::cout << "... " << runs << " seeds passed (" << static_cast<int>(elapsed()) << " s)\n"
                << std::flush;
    }
  }
  std::cout << "raft_sim: " << runs << " seeds passed (" << first << ".." << first + runs - 1 << ") in "
            << elapsed() << " s: " << steps << " steps, " << crashes << " crashes, " << partitions
            << " partitions, " << committed << " committed entries, " << reads << " linearizable reads, "
            << client_operations << " client operations checked for linearizability, " << snapshots_taken
            << " snapshots taken, " << snapshots_installed << " installed by followers (" << snapshots_damaged
            << " arrived damaged and were fetched again), " << payloads_filled
            << " AppendEntries filled in from disk, " << membership_changes << " membership changes ("
            << membership_refusals << " refused); slowest recovery after healing " << slowest_liveness
            << " time units\n";
  return 0;
}
