#pragma once
// Waiting on a condition in tests that run threads or processes: poll it
// until it holds or the timeout passes, never a fixed sleep.

#include <chrono>
#include <functional>
#include <thread>

namespace raft::testing {

inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return condition();
}

}  // namespace raft::testing
