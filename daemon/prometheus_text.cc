#include "daemon/prometheus_text.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace raftkv {

namespace {

std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  // Integers (counts, indexes) exactly; others with enough digits.
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
    return buffer;
  }
  // The fewest digits that read back as the same double: a fixed 9 would
  // round a time in seconds since the epoch (1.8e9 and a fraction) to ten
  // seconds.
  char buffer[32];
  for (int digits = 9; digits <= 17; ++digits) {
    std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

void append_escaped(std::string& out, std::string_view text, bool label_value) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && label_value) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

void PrometheusText::family(std::string_view name, std::string_view help, std::string_view type) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  append_escaped(text_, help, false);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type;
  text_ += '\n';
}

void PrometheusText::sample(std::string_view name, const Labels& labels, double value) {
  text_ += name;
  if (!labels.empty()) {
    text_ += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) text_ += ',';
      text_ += labels[i].first;
      text_ += "=\"";
      append_escaped(text_, labels[i].second, true);
      text_ += '"';
    }
    text_ += '}';
  }
  text_ += ' ';
  text_ += number(value);
  text_ += '\n';
}

void PrometheusText::gauge(std::string_view name, std::string_view help, double value) {
  family(name, help, "gauge");
  sample(name, {}, value);
}

void PrometheusText::counter(std::string_view name, std::string_view help, double value) {
  family(name, help, "counter");
  sample(name, {}, value);
}

void PrometheusText::histogram(std::string_view name, std::string_view help,
                               const raft::DurationHistogram::Reading& reading) {
  family(name, help, "histogram");
  const std::string base(name);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < raft::DurationHistogram::kBounds.size(); ++i) {
    cumulative += reading.buckets[i];
    sample(base + "_bucket", {{"le", number(raft::DurationHistogram::kBounds[i])}},
           static_cast<double>(cumulative));
  }
  sample(base + "_bucket", {{"le", "+Inf"}}, static_cast<double>(reading.count));
  sample(base + "_sum", {}, reading.sum_seconds);
  sample(base + "_count", {}, static_cast<double>(reading.count));
}

}  // namespace raftkv
