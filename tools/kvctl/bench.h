#pragma once
// `kvctl bench`: a closed-loop load generator, after etcd's `benchmark`
// tool. N clients share M connections; each client has one request in
// flight and sends the next the moment the last is answered, so the
// throughput is what the cluster sustains at that concurrency and the
// latencies are what those clients saw. The same workload can be sent to
// raftkv (raftkv.api.KV) or to etcd (etcdserverpb.KV, proto/etcd_kv.proto),
// which is how the two are compared (tools/bench/compare-etcd.sh).

#include <grpcpp/security/credentials.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kvctl {

struct BenchOptions {
  enum class Workload { kPut, kGet, kMixed };
  enum class Target { kRaftkv, kEtcd };

  Workload workload = Workload::kPut;
  Target target = Target::kRaftkv;
  std::vector<std::string> endpoints;                     // connections go round-robin over them
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // null: plaintext
  int clients = 1;
  int connections = 1;
  std::uint64_t key_space = 10'000;  // keys are drawn uniformly from this many
  int key_size = 16;
  int value_size = 256;
  double read_ratio = 0.5;    // mixed: share of reads
  bool serializable = false;  // reads: member-local instead of linearizable
  double duration_s = 10;     // used when total == 0
  std::uint64_t total = 0;    // measured operations; 0: run for duration_s
  double warmup_s = 1;        // run, unmeasured, before measuring
  bool json = false;
  bool progress = true;  // a progress line on stderr when it is a terminal
};

// Runs the benchmark and prints its report on stdout. Returns 0, or 1 when
// any request failed (the report says how many and why).
int run_bench(const BenchOptions& options);

}  // namespace kvctl
