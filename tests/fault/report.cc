#include "tests/fault/report.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace raftkv::fault {

using checker::Operation;
using checker::Outcome;

namespace {

std::string seconds(std::int64_t microseconds) {
  std::ostringstream text;
  text.setf(std::ios::fixed);
  text.precision(3);
  text << static_cast<double>(microseconds) / 1e6;
  return text.str();
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

void write_seed(const RunRecord& record) {
  std::ofstream out(record.folder + "/seed.txt");
  const RunOptions& options = record.options;
  out << "seed " << options.seed << "\n"
      << "duration " << options.duration.count() << " s, " << options.clients << " clients"
      << (options.serializable_reads ? ", serializable reads" : "")
      << (options.power_loss_fs.empty() ? "" : ", power failures") << "\n"
      << "replay the same fault schedule (timing will differ):\n"
      << "  build/tests/fault/fault_run --raftkvd build/daemon/raftkvd --seed " << options.seed
      << " --duration " << options.duration.count()
      << (options.serializable_reads ? " --serializable-reads" : "")
      << (options.power_loss_fs.empty() ? "" : " --power-loss-fs build/tests/powerloss/power_loss_fs")
      << "\n";
}

void write_verdict(const RunRecord& record) {
  std::ofstream out(record.folder + "/verdict.txt");
  out << summary(record) << "\n\n";
  if (record.violations.empty()) out << "no violation\n";
  for (const Violation& violation : record.violations) out << "VIOLATION: " << violation.what << "\n";
  out << "\n" << record.digest_summary << "\n";
  const std::string explained = record.verdict.explain();
  if (!explained.empty()) out << "\nchecker:\n" << explained << "\n";
}

void write_history(const RunRecord& record) {
  std::ofstream out(record.folder + "/history.txt");
  out << "# times are microseconds since the run began ([invoke,complete], ? when unknown); c0 is the "
         "harness (probes, final reads)\n";
  for (const Operation& operation : record.history) out << checker::describe(operation) << "\n";
}

void write_faults(const RunRecord& record) {
  std::ofstream out(record.folder + "/faults.txt");
  for (std::size_t i = 0; i < record.faults.size(); ++i) {
    const FaultEvent& fault = record.faults[i];
    out << "[" << seconds(fault.start) << " s, " << seconds(fault.end) << " s] " << fault.what;
    if (i < record.recoveries.size())
      out << "; writes acknowledged again " << record.recoveries[i].count() << " ms after healing";
    out << "\n";
  }
}

// One SVG per offending key: a row per client, a bar per operation from
// invoke to complete (an unknown outcome runs to the right edge), colored
// by outcome, the checker's culprit outlined; faults shaded behind.
void write_timeline(const RunRecord& record) {
  std::ofstream out(record.folder + "/timeline.html");
  out << "<!doctype html><meta charset=utf-8><title>raftkv fault run, seed " << record.options.seed
      << "</title><style>body{font:13px sans-serif} .ok{fill:#8c8} .failed{fill:#ccc} .unknown{fill:#fc8}"
         " .culprit{stroke:#d00;stroke-width:3} .fault{fill:#f2f2ff} text{font:11px monospace}</style>\n"
      << "<h1>seed " << record.options.seed << "</h1><p>" << escape(summary(record)) << "</p>\n";
  for (const Violation& violation : record.violations)
    out << "<p><b>violation</b>: " << escape(violation.what) << "</p>\n";
  std::set<std::uint64_t> culprits;
  for (const checker::KeyVerdict& key : record.verdict.keys) {
    if (key.culprit) culprits.insert(key.culprit->id);
  }
  for (const std::string& key : record.offending_keys) {
    std::vector<const Operation*> operations;
    for (const Operation& operation : record.history) {
      if (operation.key == key) operations.push_back(&operation);
    }
    if (operations.empty()) continue;
    std::int64_t begin = operations.front()->invoke;
    std::int64_t end = 0;
    for (const Operation* operation : operations) {
      if (operation->outcome != Outcome::kUnknown) end = std::max(end, operation->complete);
      end = std::max(end, operation->invoke);
    }
    // With a culprit, zoom in: the last operations of the explainable
    // prefix and the culprit, where the contradiction is (the whole key's
    // life, seconds long, would make each call a hairline).
    const auto verdict =
        std::find_if(record.verdict.keys.begin(), record.verdict.keys.end(),
                     [&](const checker::KeyVerdict& k) { return k.key == key && k.culprit; });
    if (verdict != record.verdict.keys.end()) {
      begin = verdict->culprit->invoke;
      const std::size_t shown = std::min<std::size_t>(verdict->prefix.size(), 12);
      for (std::size_t i = verdict->prefix.size() - shown; i < verdict->prefix.size(); ++i) {
        begin = std::min(begin, verdict->prefix[i].invoke);
      }
      end = verdict->culprit->complete;
    }
    end += (end - begin) / 20 + 1;
    std::map<std::uint64_t, int> rows;
    std::erase_if(operations, [&](const Operation* operation) {
      const std::int64_t stop = operation->outcome == Outcome::kUnknown ? end : operation->complete;
      return stop < begin || operation->invoke > end;
    });
    for (const Operation* operation : operations) rows.emplace(operation->client, 0);
    int row = 0;
    for (auto& [client, index] : rows) index = row++;
    const double width = 1400, lane = 22, left = 40;
    const double scale = (width - left) / static_cast<double>(end - begin);
    const auto x = [&](std::int64_t t) {
      return left + static_cast<double>(std::clamp(t, begin, end) - begin) * scale;
    };
    out << "<h2>key " << escape(key) << "</h2><p>" << seconds(begin) << " s to " << seconds(end)
        << " s; hover a bar for the operation</p>\n<svg width=" << width << " height=" << (row + 1) * lane
        << ">\n";
    for (const FaultEvent& fault : record.faults) {
      if (fault.end < begin || fault.start > end) continue;
      out << "<rect class=fault x=" << x(fault.start) << " y=0 width=" << x(fault.end) - x(fault.start)
          << " height=" << (row + 1) * lane << "><title>" << escape(fault.what) << "</title></rect>\n";
    }
    for (const auto& [client, index] : rows) {
      out << "<text x=0 y=" << index * lane + 15 << ">c" << client << "</text>\n";
    }
    for (const Operation* operation : operations) {
      const char* kind = operation->outcome == Outcome::kOk       ? "ok"
                         : operation->outcome == Outcome::kFailed ? "failed"
                                                                  : "unknown";
      const std::int64_t stop = operation->outcome == Outcome::kUnknown ? end : operation->complete;
      out << "<rect class=\"" << kind << (culprits.count(operation->id) ? " culprit" : "")
          << "\" x=" << x(operation->invoke) << " y=" << rows[operation->client] * lane + 3
          << " width=" << std::max(2.0, x(stop) - x(operation->invoke)) << " height=" << lane - 6
          << "><title>" << escape(checker::describe(*operation)) << "</title></rect>\n";
    }
    out << "</svg>\n<p>the operations of " << escape(key)
        << " in that window (&gt;&gt; marks the culprit):</p><pre>";
    for (const Operation* operation : operations) {
      out << (culprits.count(operation->id) ? "&gt;&gt; " : "   ") << escape(checker::describe(*operation))
          << "\n";
    }
    out << "</pre>\n";
  }
}

}  // namespace

void write_report(const RunRecord& record) {
  write_seed(record);
  write_verdict(record);
  write_history(record);
  write_faults(record);
  write_timeline(record);
}

}  // namespace raftkv::fault
