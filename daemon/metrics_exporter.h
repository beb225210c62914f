#pragma once
// What raftkvd exposes on its metrics endpoint, read from the Raft server,
// the peer transport, the client endpoint's request counter and the data
// directory at each scrape. docs/operations.md lists every metric.

#include <cstdint>
#include <string>

#include "daemon/grpc_request_counter.h"
#include "raft/grpc_transport.h"
#include "raft/server.h"

namespace raftkv {

struct MetricsSources {
  std::uint64_t cluster_id = 0;
  std::uint64_t member_id = 0;
  const raft::Server* server = nullptr;
  const raft::GrpcTransport* transport = nullptr;
  const GrpcRequestCounter* requests = nullptr;
  std::string data_directory;
};

// The Prometheus text of every metric, now.
std::string render_metrics(const MetricsSources& sources);

}  // namespace raftkv
