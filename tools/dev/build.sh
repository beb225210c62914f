#!/usr/bin/env bash
# Shared by run.sh and test.sh: installs missing Debian packages, then
# configures and builds the tree in ./build (CMake + Ninja).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$repo/tools/setup/install-deps.sh"
cmake -S "$repo" -B "$repo/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# Two cores: two compile jobs keep memory use reasonable with gRPC headers.
cmake --build "$repo/build" -j "$(nproc)" "$@"
