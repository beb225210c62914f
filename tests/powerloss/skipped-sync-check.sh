#!/usr/bin/env bash
# Checks that the power-loss runs of the fault harness catch a member that
# does not sync what it promises is durable: each mutation below removes
# one sync from a scratch copy of the tree, raftkvd is rebuilt there
# (incrementally), and fault_run --power-loss-fs runs it for SEEDS runs of
# a minute. A mutation that survives every run fails the script; one whose
# anchor is gone or that does not build exits 2. Needs root and FUSE, and
# a built tree (BUILD_DIR: its fault_run and power_loss_fs are used).
#
# Not part of ctest (it takes about ten minutes); its last results are in
# docs/testing.md.
#
#   tests/powerloss/skipped-sync-check.sh BUILD_DIR [SEEDS]     default 2
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "$1" && pwd)
seeds=${2:-2}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
started=$SECONDS

# file | text to replace | replacement | what the mutation skips
mutations=(
  "raft/rocksdb_storage.cc|  options.sync = sync;|  options.sync = sync && false;|RocksDbStorage saves the log and hard state without syncing"
  "raft/file_snapshot_store.cc|    if (::fdatasync(fd_) != 0) return|    if (false) return|FileSnapshotStore commits a snapshot file it did not sync"
)

source "$repo/tests/mutant_tree.sh"
mutant_tree_create "$repo" "$scratch"
mutant_tree_build raftkvd "the unmutated tree"
echo "skipped-sync-check: raftkvd built in $((SECONDS - started)) s"

survivors=0
for mutation in "${mutations[@]}"; do
  IFS='|' read -r file from to what <<<"$mutation"
  mutant_started=$SECONDS
  mutant_apply "$file" "$from" "$to"
  mutant_tree_build raftkvd "the mutant ($what)"
  status=0
  output=$("$build/tests/fault/fault_run" --raftkvd "$mutant_build/daemon/raftkvd" \
    --power-loss-fs "$build/tests/powerloss/power_loss_fs" --seed 1 --seeds "$seeds" --duration 60 \
    --results "$scratch/results" 2>&1) || status=$?
  if [[ $status -eq 2 ]]; then
    echo "skipped-sync-check: the harness could not run ($what):" >&2
    tail -5 <<<"$output" >&2
    exit 2
  fi
  echo "== $what ($((SECONDS - mutant_started)) s)"
  grep -E '^seed [0-9]+:|VIOLATION' <<<"$output" | head -8
  if [[ $status -eq 0 ]]; then
    echo "   SURVIVED $seeds runs"
    survivors=$((survivors + 1))
  fi
  mutant_undo
done
echo "skipped-sync-check: ${#mutations[@]} mutants, $survivors survived, in $((SECONDS - started)) s"
exit $((survivors > 0))
