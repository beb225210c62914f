#pragma once
// Runs functions at given times, on one thread of its own: how the KV
// service answers a write whose entry has not applied by its deadline, and
// re-checks for a leader mid-election, without a thread waiting per call.
// Functions must be quick. The destructor runs every function still
// pending at once, and at() runs one at once once the timer is stopping, so
// that nothing waits on a function that will never run.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace kv {

class DeadlineTimer {
 public:
  using Clock = std::chrono::system_clock;

  DeadlineTimer();
  ~DeadlineTimer();
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // What at() scheduled, for cancel().
  struct Entry {
    Clock::time_point when;
    std::uint64_t id = 0;
  };

  Entry at(Clock::time_point when, std::function<void()> function);
  // Drops a function that has not run yet (a call answered before its
  // deadline), so that it holds no memory until then. No-op if it ran.
  void cancel(const Entry& entry);

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::pair<Clock::time_point, std::uint64_t>, std::function<void()>> due_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kv
