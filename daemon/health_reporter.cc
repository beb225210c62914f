#include "daemon/health_reporter.h"

#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

namespace raftkv {

namespace {

constexpr const char* kFollowingServices[] = {"", "raftkv.api.KV"};

}  // namespace

std::optional<std::string> not_serving_reason(const raft::ServerStatus& status, raft::Index max_lag) {
  if (!status.running) return "not running";
  if (status.removed) return "removed from the cluster";
  if (status.leader == raft::kNoNode) return "no leader known";
  if (status.applied_index + max_lag < status.cluster_commit_index) {
    return "catching up: applied " + std::to_string(status.applied_index) + " of " +
           std::to_string(status.cluster_commit_index) + " committed entries";
  }
  return std::nullopt;
}

HealthReporter::HealthReporter(raft::Server& server, grpc::HealthCheckServiceInterface& health,
                               raft::Index max_lag, std::chrono::milliseconds interval)
    : server_(server), health_(health), max_lag_(max_lag), interval_(interval) {
  for (const char* service : kFollowingServices) health_.SetServingStatus(service, false);
  health_.SetServingStatus("raftkv.api.Admin", true);
  thread_ = std::thread([this] { run(); });
}

HealthReporter::~HealthReporter() {
  shut_down();
}

void HealthReporter::shut_down() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  health_.Shutdown();  // NOT_SERVING everywhere, and later updates ignored
}

void HealthReporter::run() {
  std::optional<bool> serving;  // as last set
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    const std::optional<std::string> reason = not_serving_reason(server_.status(), max_lag_);
    if (serving != !reason.has_value()) {
      spdlog::info("health: {}", reason ? "NOT_SERVING, " + *reason : std::string("SERVING"));
      serving = !reason.has_value();
      for (const char* service : kFollowingServices) health_.SetServingStatus(service, *serving);
    }
    lock.lock();
    wake_.wait_for(lock, interval_, [&] { return stopping_; });
  }
}

}  // namespace raftkv
