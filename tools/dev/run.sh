#!/usr/bin/env bash
# The README's first command: install what is missing, build, and show a
# five-node cluster working. Until the raftkvd daemon lands (issue 4) the
# cluster is raft-demo's: five raft::Server nodes in one process.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$repo/tools/dev/build.sh" --target raft-demo
exec "$repo/build/tools/raft-demo" "$@"
