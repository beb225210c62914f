#pragma once
// Writes metrics in Prometheus' text exposition format (version 0.0.4):
// each family's HELP and TYPE lines, then its samples; label values
// escaped; histograms as cumulative _bucket{le=...} samples with _sum and
// _count.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "raft/server_metrics.h"

namespace raftkv {

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // A family of one sample without labels.
  void gauge(std::string_view name, std::string_view help, double value);
  void counter(std::string_view name, std::string_view help, double value);

  // A family of several samples: family() once, then sample() for each.
  void family(std::string_view name, std::string_view help, std::string_view type);
  void sample(std::string_view name, const Labels& labels, double value);

  void histogram(std::string_view name, std::string_view help,
                 const raft::DurationHistogram::Reading& reading);

  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

}  // namespace raftkv
