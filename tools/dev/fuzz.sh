#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang in ./build-fuzz and
# runs each for SECONDS (default 60), keeping what they learn in
# build-fuzz/corpus/<target> so the next run starts from there.
#
#   tools/dev/fuzz.sh [SECONDS]       build, then run both targets
#   tools/dev/fuzz.sh --build-only    build only (tools/dev/test.sh does this first)
#
# A failing input is saved as build-fuzz/crash-*; replay it with
# build-fuzz/tests/fuzz/<target> build-fuzz/crash-<hash>.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$repo/build-fuzz
targets=(core_message_fuzzer client_request_fuzzer)
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is missing (tools/setup/install-deps.sh installs it)" >&2; exit 1; }
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRAFTKV_FUZZ=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"
[[ ${1:-} == --build-only ]] && exit 0
seconds=${1:-60}
cd "$build"
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  echo "== $target for $seconds s"
  # One worker; -rss_limit_mb bounds a runaway allocation; the leak check is
  # off because the client fuzzer keeps one store open for the whole run.
  status=0
  "$build/tests/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 \
    -detect_leaks=0 "corpus/$target" >"$target.log" 2>&1 || status=$?
  grep -E "^(#[0-9]+[[:space:]]+DONE|stat::|INFO: Loaded)" "$target.log" || true
  if [[ $status -ne 0 ]]; then
    tail -n 40 "$target.log"
    echo "fuzz.sh: $target failed (exit status $status); the whole log is $build/$target.log" >&2
    exit 1
  fi
done
echo "fuzz.sh: both targets ran $seconds s without a failure"
