#pragma once
// raftkvd's metrics endpoint: GET /metrics over plain HTTP on
// --listen-metrics HOST:PORT, answered with whatever `render` returns (the
// Prometheus text format), by cpp-httplib on threads of its own. Anything
// else is 404. Kept off the gRPC ports so that a scraper needs no gRPC and
// no client certificate; bind it to a private or loopback address.

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "raft/result.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace raftkv {

class MetricsServer {
 public:
  // Binds now, so that a bad or busy address is an error at start-up; port
  // 0 picks a free one (port()).
  static raft::Result<std::unique_ptr<MetricsServer>> start(const std::string& address,
                                                            std::function<std::string()> render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const { return port_; }

 private:
  MetricsServer() = default;

  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace raftkv
