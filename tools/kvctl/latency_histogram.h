#pragma once
// A latency histogram in the manner of HdrHistogram: buckets whose width
// grows with the value, so that every recorded latency is kept to within
// 1/kSubBuckets (under 1 %) from a microsecond to an hour, in fixed memory
// (a few thousand counters), with O(1) recording and exact counts. Merging
// adds counters, so each client records alone and the totals are summed.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace kvctl {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 7;  // 128 sub-buckets: < 0.8 % error
  static constexpr std::uint64_t kSubBuckets = 1ull << kSubBucketBits;
  static constexpr int kMagnitudes = 64 - kSubBucketBits;

  // `nanoseconds` of one operation.
  void record(std::uint64_t nanoseconds) {
    ++counts_[index_of(nanoseconds)];
    ++total_;
    max_ = std::max(max_, nanoseconds);
    sum_ += nanoseconds;
  }

  void merge(const LatencyHistogram& other) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
    sum_ += other.sum_;
  }

  std::uint64_t count() const { return total_; }
  std::uint64_t max() const { return max_; }
  double mean() const { return total_ == 0 ? 0 : static_cast<double>(sum_) / static_cast<double>(total_); }

  // The latency at or under which `fraction` (0..1) of the operations
  // completed: the upper edge of the bucket that holds that rank (the
  // maximum for the top one), in nanoseconds; 0 when empty.
  std::uint64_t percentile(double fraction) const {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(std::max(1.0, fraction * static_cast<double>(total_) + 0.5));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(upper_edge(i), max_);
    }
    return max_;
  }

 private:
  // Values below kSubBuckets have a bucket each; above, each power of two
  // is split into kSubBuckets/2 equal parts (the top bit is implied).
  static std::size_t index_of(std::uint64_t value) {
    if (value < kSubBuckets) return static_cast<std::size_t>(value);
    const int magnitude = std::bit_width(value) - kSubBucketBits;  // >= 1
    const std::uint64_t sub = (value >> magnitude) - kSubBuckets / 2;
    return static_cast<std::size_t>(kSubBuckets +
                                    static_cast<std::uint64_t>(magnitude - 1) * (kSubBuckets / 2) + sub);
  }

  static std::uint64_t upper_edge(std::size_t index) {
    if (index < kSubBuckets) return index;
    const std::uint64_t above = index - kSubBuckets;
    const int magnitude = static_cast<int>(above / (kSubBuckets / 2)) + 1;
    const std::uint64_t sub = above % (kSubBuckets / 2) + kSubBuckets / 2;
    return ((sub + 1) << magnitude) - 1;
  }

  std::array<std::uint64_t, kSubBuckets + kMagnitudes*(kSubBuckets / 2)> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t sum_ = 0;
};

}  // namespace kvctl
