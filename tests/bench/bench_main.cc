// main() for the project's benchmarks. Google Benchmark's own
// BENCHMARK_MAIN (1.7.1, Debian 12) exits 0 even when a benchmark stopped
// with SkipWithError -- a proposal refused, a storage that would not open --
// so a smoke test of it could never fail. This one reports as the library
// does (--benchmark_format=console|json) and exits 1 naming every
// benchmark that stopped on an error.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

class ErrorRecordingReporter final : public benchmark::BenchmarkReporter {
 public:
  explicit ErrorRecordingReporter(std::unique_ptr<benchmark::BenchmarkReporter> display)
      : display_(std::move(display)) {}

  bool ReportContext(const Context& context) override { return display_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) errors_.push_back(run.benchmark_name() + ": " + run.error_message);
    }
    display_->ReportRuns(runs);
  }
  void Finalize() override { display_->Finalize(); }

  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> display_;
  std::vector<std::string> errors_;
};

// The reporter --benchmark_format asks for (read before Initialize()
// consumes the flag).
std::unique_ptr<benchmark::BenchmarkReporter> display_reporter(int argc, char** argv) {
  std::string format = "console";
  for (int i = 1; i < argc; ++i) {
    constexpr const char* kFlag = "--benchmark_format=";
    if (std::strncmp(argv[i], kFlag, std::strlen(kFlag)) == 0) format = argv[i] + std::strlen(kFlag);
  }
  if (format == "json") return std::make_unique<benchmark::JSONReporter>();
  return std::make_unique<benchmark::ConsoleReporter>(
      isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_Color : benchmark::ConsoleReporter::OO_None);
}

}  // namespace

int main(int argc, char** argv) {
  ErrorRecordingReporter reporter(display_reporter(argc, argv));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  for (const std::string& error : reporter.errors()) std::cerr << "benchmark failed: " << error << "\n";
  return reporter.errors().empty() ? 0 : 1;
}
