#!/usr/bin/env bash
# The README's second command: install what is missing, build everything, and
# run the whole test suite with ctest -- unit and paper tests, server tests,
# the deterministic simulation, and their ASan+UBSan / TSan twins.
#
#   tools/dev/test.sh                 everything
#   tools/dev/test.sh -L unit         only the fast unit tests (any ctest args)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$repo/tools/dev/build.sh"
cd "$repo/build"
exec ctest --output-on-failure -j "$(nproc)" "$@"
