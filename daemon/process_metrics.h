#pragma once
// The standard process_* metrics every Prometheus client library exports
// (CPU seconds, resident and virtual memory, open and maximum file
// descriptors, start time), read from /proc/self at each scrape, so that
// dashboards built for any exporter work on raftkvd too.

#include <optional>

namespace raftkv {

struct ProcessMetrics {
  double cpu_seconds = 0;  // user + system
  double resident_memory_bytes = 0;
  double virtual_memory_bytes = 0;
  double open_fds = 0;
  double max_fds = 0;
  double start_time_seconds = 0;  // since the Unix epoch
};

// Empty where /proc cannot be read (not Linux, or hidden).
std::optional<ProcessMetrics> read_process_metrics();

}  // namespace raftkv
