#!/usr/bin/env bash
# The README's first command: install what is missing, build, start a local
# five-member cluster of raftkvd processes (deploy/local/cluster.sh), and
# show it working with kvctl. Safe to repeat: running members are kept.
# Stop it with: deploy/local/cluster.sh stop
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$repo/tools/dev/build.sh" --target raftkvd --target kvctl
"$repo/deploy/local/cluster.sh" start
export KVCTL_ENDPOINTS=127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003,127.0.0.1:9004,127.0.0.1:9005
kvctl="$repo/build/tools/kvctl"
echo
echo "\$ kvctl put greeting 'hello, raftkv'"
"$kvctl" put greeting 'hello, raftkv'
echo "\$ kvctl get greeting      # linearizable, through any member"
"$kvctl" get greeting
echo "\$ kvctl endpoint status"
"$kvctl" endpoint status
echo
echo "data and logs: ${RAFTKV_CLUSTER_DIR:-/tmp/raftkv-cluster} (deploy/local/cluster.sh logs | stop)"
