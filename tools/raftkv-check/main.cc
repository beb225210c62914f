// raftkv-check: opens a node's data directory as raftkvd would, reads all of
// it, and says whether a node could start on it.
//
//   raftkv-check --data-dir DIR --cluster-id N --id N
//
// Exit status: 0 the directory is sound (a summary is printed); 1 it is
// refused (one line naming the directory and the fault); 2 bad usage.

#include <CLI/CLI.hpp>
#include <cstdio>

#include "daemon/node_storage.h"

int main(int argc, char** argv) {
  CLI::App app{"Checks a raftkv node's data directory the way raftkvd opens it."};
  std::string directory;
  std::uint64_t cluster_id = 0;
  std::uint64_t node_id = 0;
  app.add_option("--data-dir", directory, "the node's data directory")->required();
  const CLI::Validator positive(
      [](std::string& value) {
        return value.find_first_not_of("0123456789") == std::string::npos &&
                       value.find_first_not_of('0') != std::string::npos
                   ? std::string()
                   : "must be a positive integer, not '" + value + "'";
      },
      "POSITIVE");
  app.add_option("--cluster-id", cluster_id, "the cluster the directory must belong to")
      ->required()
      ->check(positive);
  app.add_option("--id", node_id, "the node the directory must belong to")->required()->check(positive);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    std::fprintf(stderr, "raftkv-check: %s\n", error.what());
    return 2;
  }

  // Nothing is created: a check never turns a mistyped path into a node.
  auto node = raftkv::NodeStorage::open(directory, raft::StorageIdentity{cluster_id, node_id},
                                        raftkv::NodeStorage::Mode::kExistingOnly);
  if (!node.ok()) {
    std::fprintf(stderr, "raftkv-check: %s\n", node.error().to_string().c_str());
    return 1;
  }
  raftkv::NodeStorage storage = std::move(node).value();
  auto summary = storage.check();
  if (!summary.ok()) {
    std::fprintf(stderr, "raftkv-check: %s\n", summary.error().to_string().c_str());
    return 1;
  }
  const raftkv::NodeStorageSummary& s = summary.value();
  std::printf("%s: cluster %llu, node %llu\n", directory.c_str(), static_cast<unsigned long long>(cluster_id),
              static_cast<unsigned long long>(node_id));
  std::printf("  term %llu, voted for %llu, commit %llu\n",
              static_cast<unsigned long long>(s.hard_state.term()),
              static_cast<unsigned long long>(s.hard_state.vote()),
              static_cast<unsigned long long>(s.hard_state.commit()));
  std::printf(
      "  log %llu..%llu, snapshot at %llu (term %llu, %llu bytes)\n",
      static_cast<unsigned long long>(s.first_log_index), static_cast<unsigned long long>(s.last_log_index),
      static_cast<unsigned long long>(s.snapshot.index()), static_cast<unsigned long long>(s.snapshot.term()),
      static_cast<unsigned long long>(s.snapshot.size()));
  std::printf("  key-value store: applied %llu, %zu keys\n", static_cast<unsigned long long>(s.applied_index),
              s.keys);
  return 0;
}
