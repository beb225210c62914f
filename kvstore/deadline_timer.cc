#include "kvstore/deadline_timer.h"

#include <vector>

namespace kv {

DeadlineTimer::DeadlineTimer() : thread_([this] { run(); }) {}

DeadlineTimer::~DeadlineTimer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_one();
  thread_.join();
}

DeadlineTimer::Entry DeadlineTimer::at(Clock::time_point when, std::function<void()> function) {
  Entry entry{when, 0};
  {
    std::unique_lock lock(mutex_);
    if (stopping_) {
      lock.unlock();
      function();  // nothing will run it later
      return entry;
    }
    entry.id = next_id_++;
    const bool earliest = due_.empty() || when < due_.begin()->first.first;
    due_.emplace(std::pair(when, entry.id), std::move(function));
    if (!earliest) return entry;
  }
  changed_.notify_one();
  return entry;
}

void DeadlineTimer::cancel(const Entry& entry) {
  std::function<void()> dropped;  // destroyed outside the lock
  std::lock_guard lock(mutex_);
  auto found = due_.find(std::pair(entry.when, entry.id));
  if (found == due_.end()) return;
  dropped = std::move(found->second);
  due_.erase(found);
}

void DeadlineTimer::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    if (stopping_) break;
    if (due_.empty()) {
      changed_.wait(lock);
      continue;
    }
    if (changed_.wait_until(lock, due_.begin()->first.first) == std::cv_status::no_timeout) continue;
    // Run what is due outside the lock: a function may schedule another.
    std::vector<std::function<void()>> ready;
    const Clock::time_point now = Clock::now();
    while (!due_.empty() && due_.begin()->first.first <= now) {
      ready.push_back(std::move(due_.begin()->second));
      due_.erase(due_.begin());
    }
    lock.unlock();
    for (auto& function : ready) function();
    lock.lock();
  }
  auto left = std::move(due_);
  lock.unlock();
  for (auto& [when, function] : left) function();
}

}  // namespace kv
