// kv::DeadlineTimer, which answers writes still pending at their deadline:
// functions run at (never before) their time, in time order, and none is
// lost when the timer stops.

#include "kvstore/deadline_timer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/unit/eventually.h"

namespace kv {
namespace {

using namespace std::chrono_literals;
using Clock = DeadlineTimer::Clock;

TEST(DeadlineTimer, RunsEachFunctionNoEarlierThanItsTimeAndInTimeOrder) {
  std::mutex mutex;
  std::vector<int> order;
  std::vector<Clock::duration> lateness;
  DeadlineTimer timer;
  const Clock::time_point start = Clock::now();
  for (int i : {3, 1, 2}) {
    const Clock::time_point when = start + i * 30ms;
    timer.at(when, [&, i, when] {
      std::lock_guard lock(mutex);
      order.push_back(i);
      lateness.push_back(Clock::now() - when);
    });
  }
  ASSERT_TRUE(raft::testing::eventually([&] {
    std::lock_guard lock(mutex);
    return order.size() == 3;
  }));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  for (Clock::duration late : lateness) EXPECT_GE(late, Clock::duration::zero());
}

TEST(DeadlineTimer, ACancelledFunctionNeverRuns) {
  std::atomic<int> cancelled_runs{0}, other_runs{0};
  DeadlineTimer timer;
  // The timer's thread is held inside a first function while the test
  // schedules and cancels, so the cancelled one is certainly due -- and
  // certainly not run yet -- when the thread is let go.
  std::promise<void> let_go;
  std::promise<void> holding;
  timer.at(Clock::now(), [&, go = let_go.get_future().share()] {
    holding.set_value();
    go.wait();
  });
  holding.get_future().wait();
  const DeadlineTimer::Entry entry = timer.at(Clock::now() + 1ms, [&] { ++cancelled_runs; });
  timer.at(Clock::now() + 2ms, [&] { ++other_runs; });
  timer.cancel(entry);
  timer.cancel(entry);                                // twice: still fine
  std::this_thread::sleep_until(Clock::now() + 3ms);  // both are due now
  let_go.set_value();
  EXPECT_TRUE(raft::testing::eventually([&] { return other_runs == 1; }));
  EXPECT_EQ(cancelled_runs, 0);
}

TEST(DeadlineTimer, AFunctionMaySchedule) {
  std::atomic<int> runs{0};
  DeadlineTimer timer;
  std::function<void()> again = [&] {
    if (++runs < 5) timer.at(Clock::now() + 1ms, again);
  };
  timer.at(Clock::now(), again);
  EXPECT_TRUE(raft::testing::eventually([&] { return runs == 5; }));
}

TEST(DeadlineTimer, StoppingRunsWhatIsPendingAndWhatComesAfter) {
  std::atomic<int> runs{0};
  {
    DeadlineTimer timer;
    timer.at(Clock::now() + 1h, [&] {
      ++runs;
      // Scheduled while the timer stops: run at once, not dropped.
      timer.at(Clock::now() + 1h, [&] { ++runs; });
    });
  }
  EXPECT_EQ(runs, 2);
}

}  // namespace
}  // namespace kv
