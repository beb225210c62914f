// A negative control for bench_main.cc: one benchmark that stops with an
// error, as a real one does when its cluster cannot elect a leader. Its
// smoke test must fail, and say which benchmark and why.

#include <benchmark/benchmark.h>

namespace {

void BM_StopsWithAnError(benchmark::State& state) {
  for (auto _ : state) {
    state.SkipWithError("a planted failure");
    break;
  }
}
BENCHMARK(BM_StopsWithAnError);

}  // namespace
