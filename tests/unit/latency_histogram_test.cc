// kvctl's latency histogram (tools/kvctl/latency_histogram.h): percentiles
// within its stated precision, exact counts, and merging.

#include "tools/kvctl/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace kvctl {
namespace {

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram histogram;
  for (std::uint64_t v = 1; v <= 100; ++v) histogram.record(v);
  EXPECT_EQ(histogram.count(), 100u);
  EXPECT_EQ(histogram.percentile(0.5), 50u);
  EXPECT_EQ(histogram.percentile(0.99), 99u);
  EXPECT_EQ(histogram.percentile(1.0), 100u);
  EXPECT_EQ(histogram.max(), 100u);
  EXPECT_DOUBLE_EQ(histogram.mean(), 50.5);
}

TEST(LatencyHistogram, PercentilesAreWithinOnePercentOverManyMagnitudes) {
  // Log-uniform latencies from 1 µs to 10 s, against the sorted truth.
  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> exponent(3, 10);
  std::vector<std::uint64_t> values;
  LatencyHistogram histogram;
  for (int i = 0; i < 200'000; ++i) {
    const auto value = static_cast<std::uint64_t>(std::pow(10.0, exponent(random)));
    values.push_back(value);
    histogram.record(value);
  }
  std::sort(values.begin(), values.end());
  for (double fraction : {0.5, 0.9, 0.99, 0.999}) {
    const double truth = static_cast<double>(values[static_cast<std::size_t>(fraction * values.size()) - 1]);
    const double reported = static_cast<double>(histogram.percentile(fraction));
    EXPECT_NEAR(reported / truth, 1.0, 0.01) << "p" << fraction * 100;
  }
  EXPECT_EQ(histogram.percentile(1.0), values.back());
  EXPECT_EQ(histogram.max(), values.back());
}

TEST(LatencyHistogram, MergingIsTheSameAsRecordingTogether) {
  LatencyHistogram a, b, together;
  for (std::uint64_t v = 1; v < 1'000'000; v = v * 3 + 1) {
    (v % 2 ? a : b).record(v);
    together.record(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), together.count());
  EXPECT_EQ(a.max(), together.max());
  for (double fraction : {0.1, 0.5, 0.9, 1.0})
    EXPECT_EQ(a.percentile(fraction), together.percentile(fraction));
}

TEST(LatencyHistogram, HugeValuesDoNotOverflow) {
  LatencyHistogram histogram;
  histogram.record(~std::uint64_t{0});
  histogram.record(1);
  EXPECT_EQ(histogram.percentile(1.0), ~std::uint64_t{0});
  EXPECT_EQ(histogram.percentile(0.5), 1u);
}

TEST(LatencyHistogram, AnEmptyOneSaysZero) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.percentile(0.99), 0u);
  EXPECT_EQ(histogram.mean(), 0.0);
}

}  // namespace
}  // namespace kvctl
