#include "daemon/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace raftkv {
namespace {

// The fields of /proc/self/stat after the command name (which is in
// parentheses and may hold blanks): field 3 of proc(5) is element 0.
std::optional<std::vector<std::string>> stat_fields() {
  std::ifstream file("/proc/self/stat");
  std::string line;
  if (!std::getline(file, line)) return std::nullopt;
  const std::size_t name_end = line.rfind(')');
  if (name_end == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(name_end + 1));
  return std::vector<std::string>(std::istream_iterator<std::string>(rest),
                                  std::istream_iterator<std::string>());
}

// When the machine booted, in seconds since the epoch (/proc/stat's btime).
std::optional<double> boot_time_seconds() {
  std::ifstream file("/proc/stat");
  std::string key;
  double value = 0;
  while (file >> key) {
    if (key == "btime" && file >> value) return value;
    file.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProcessMetrics> read_process_metrics() {
  const std::optional<std::vector<std::string>> fields = stat_fields();
  const std::optional<double> booted = boot_time_seconds();
  // proc(5): utime 14, stime 15, starttime 22, vsize 23, rss 24 (pages).
  if (!fields || fields->size() < 22 || !booted) return std::nullopt;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const auto field = [&](int number) { return std::stod((*fields)[number - 3]); };
  ProcessMetrics metrics;
  try {
    metrics.cpu_seconds = (field(14) + field(15)) / ticks;
    metrics.start_time_seconds = *booted + field(22) / ticks;
    metrics.virtual_memory_bytes = field(23);
    metrics.resident_memory_bytes = field(24) * page;
  } catch (const std::exception&) {  // not numbers: not the /proc this reads
    return std::nullopt;
  }
  std::error_code error;
  for (std::filesystem::directory_iterator fd("/proc/self/fd", error), end; !error && fd != end;
       fd.increment(error)) {
    metrics.open_fds += 1;
  }
  if (rlimit limit{}; getrlimit(RLIMIT_NOFILE, &limit) == 0)
    metrics.max_fds = static_cast<double>(limit.rlim_cur);
  return metrics;
}

}  // namespace raftkv
