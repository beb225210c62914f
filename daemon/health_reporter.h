#pragma once
// raftkvd's answers on the standard gRPC health service (grpc.health.v1):
// SERVING only while this member can serve clients without sending them
// elsewhere to wait -- it knows a leader and has caught up with what the
// cluster committed -- so a load balancer or an orchestrator's readiness
// probe takes a member out while it is cut off, electing, restoring a
// snapshot or replaying a long log, and puts it back when it is ready.
//
// Services: "" (the member as a whole) and raftkv.api.KV follow that rule;
// raftkv.api.Admin is SERVING while the process runs (status, membership
// and leader transfer work, or say why not, without a leader). On shutdown
// every service turns NOT_SERVING before leadership is handed over.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "raft/server.h"

namespace grpc {
class HealthCheckServiceInterface;
}  // namespace grpc

namespace raftkv {

// Why a member in this state is not SERVING; nullopt when it is.
// `max_lag`: how many committed entries it may still have to apply.
std::optional<std::string> not_serving_reason(const raft::ServerStatus& status, raft::Index max_lag);

class HealthReporter {
 public:
  // Polls the server every `interval` and updates `health` when the answer
  // changes, logging why.
  HealthReporter(raft::Server& server, grpc::HealthCheckServiceInterface& health, raft::Index max_lag,
                 std::chrono::milliseconds interval = std::chrono::milliseconds(100));
  ~HealthReporter();
  HealthReporter(const HealthReporter&) = delete;
  HealthReporter& operator=(const HealthReporter&) = delete;

  // Every service NOT_SERVING from now on, for good.
  void shut_down();

 private:
  void run();

  raft::Server& server_;
  grpc::HealthCheckServiceInterface& health_;
  const raft::Index max_lag_;
  const std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace raftkv
