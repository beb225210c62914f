#include "raft/server_metrics.h"

#include <algorithm>

namespace raft {

void DurationHistogram::observe(std::chrono::nanoseconds duration) {
  const double seconds = std::chrono::duration<double>(duration).count();
  const auto bucket =
      static_cast<std::size_t>(std::lower_bound(kBounds.begin(), kBounds.end(), seconds) - kBounds.begin());
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_nanoseconds_.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(duration.count(), 0)),
                             std::memory_order_relaxed);
}

DurationHistogram::Reading DurationHistogram::read() const {
  Reading reading;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    reading.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    reading.count += reading.buckets[i];
  }
  reading.sum_seconds = static_cast<double>(sum_nanoseconds_.load(std::memory_order_relaxed)) / 1e9;
  return reading;
}

}  // namespace raft
