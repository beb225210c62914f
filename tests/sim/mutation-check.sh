#!/usr/bin/env bash
# Checks that the simulation catches known-wrong variants of the core: each
# mutation below is applied in turn to one scratch copy of the tree, raft_sim
# is rebuilt there (incrementally: the mutated file and the link), and the
# first failing seed and the property it broke are printed. A mutation that
# survives the seed range is reported and fails the script; so does one
# whose anchor text is gone or that does not build (status 2).
#
#   tests/sim/mutation-check.sh [SEEDS]      default 1..20000
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seeds=${1:-1..20000}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
started=$SECONDS

# file | text to replace | replacement | what the mutation breaks
mutations=(
  "raft/core_replication.cc|  if (log_.term_at(candidate) != term_) return false;|  (void)0;|commit entries of earlier terms by counting replicas (§5.4.2)"
  "raft/core.cc|  const bool grant = can_vote && log_.is_up_to_date(request.last_log_index(), request.last_log_term());|  const bool grant = can_vote;|grant votes without the up-to-date log check (§5.4.1)"
  "raft/core.cc|      if (!request.pre_vote()) {|      if (true) {|let a pre-vote request raise the receiver's term (§9.6)"
  "raft/raft_log.h|    if (existing == entry.term()) continue;  // already have it (e.g. a retransmission)|    if (existing.has_value()) continue;|keep conflicting entries instead of truncating (AppendEntries rule 3)"
  "raft/core_replication.cc|    log_.commit_to(std::min(append.leader_commit(), last_new));|    log_.commit_to(std::min(append.leader_commit(), log_.last_index()));|commit beyond the entries the leader vouched for (rule 5)"
  "raft/core_snapshots.cc|  if (!intact) {|  if (!intact && false) {|install a snapshot that arrived damaged"
  "raft/core_snapshots.cc|  log_.compact(std::min({through, snapshot_.index(), log_.stable_index()}));|  log_.compact(std::min({through + 1000000, log_.applied(), log_.stable_index()}));|compact the log past the latest snapshot"
  "raft/core_snapshots.cc| chunk.offset() != incoming_->received) {| false) {|accept snapshot chunks out of order"
  "raft/core_reads.cc|  read.round = read_round_ + 1;   // step 3: confirmed by the next round|  read.round = 0;|serve reads without confirming leadership (§6.4 step 3)"
  "raft/raft_log.cc|  const Index releasable = std::min(applied_, stable_);|  const Index releasable = stable_;|drop payloads of entries not yet applied"
  "raft/core_reads.cc|    reads_to_forward_.push_back(request_id);  // sent at the next ready(), with the others|    if (forwarded_reads_) { forwarded_reads_->request_ids.push_back(request_id); return; } reads_to_forward_.push_back(request_id);|let a forwarded ReadIndex answer reads that began after it was sent"
  "raft/log_payloads.cc|  if (missing == 0) return PayloadFill::kReady;|  if (missing >= 0) return PayloadFill::kReady;|send AppendEntries without the payloads dropped from memory"
  "raft/core_replication.cc|  for (NodeId voter : membership().voters()) {|  std::vector<NodeId> everyone = peers_; everyone.push_back(config_.id); for (NodeId voter : everyone) {|count learners towards commitment (§4.2.1)"
  "raft/core_membership.cc|  memberships_.truncate_after(append.prev_log_index());|  (void)0;|keep a configuration whose entry was truncated away (§4.1)"
  # The driver (raft::Node, raft::Applier), which the simulation runs as production does.
  "raft/node.cc|  ready_in_flight_ = std::move(ready);|  for (const pb::Message& m : ready.messages_after_persist) { if (m.has_append_entries_response()) output_.messages.push_back(m); } ready_in_flight_ = std::move(ready);|driver: acknowledge entries before they are synced"
  "raft/node.cc|  ready_in_flight_ = std::move(ready);|  for (const pb::Message& m : ready.messages_after_persist) { if (m.has_request_vote_response()) output_.messages.push_back(m); } ready_in_flight_ = std::move(ready);|driver: answer a vote before the vote is durable"
  "raft/node.cc|  write.sync = installs ? true : ready.must_sync;|  write.sync = installs ? true : false;|driver: save entries and votes without syncing them"
  "raft/node.cc|      work.restore = *ready.snapshot;|      (void)0;|driver: apply entries after a snapshot without installing it"
  "raft/applier.cc|      if (proposal->second.term == entry.term()) {|      if (true) {|driver: decide a proposal by its index, not its term"
)

# One copy of the tree as it is now, so that edits made while the check runs
# do not leak into it, configured and built once; each mutant then costs the
# files it changes and a link.
source "$repo/tests/mutant_tree.sh"
mutant_tree_create "$repo" "$scratch"
mutant_tree_build raft_sim "the unmutated tree"
echo "mutation-check: the unmutated raft_sim built in $((SECONDS - started)) s"

# The seed range in as many slices as there are cores, run side by side. A
# slice stops at its first failing seed; slices are looked at in order, so
# the first failure found is the first failing seed, and the later slices
# are stopped then.
run_seeds() {
  local first=${seeds%%..*} last=${seeds##*..} cores slices=() pids=() output
  cores=$(nproc)
  local width=$(((last - first + cores) / cores))
  for ((i = 0; i < cores; i++)); do
    local from=$((first + i * width)) to=$((first + (i + 1) * width - 1))
    ((from > last)) && break
    ((to > last)) && to=$last
    slices+=("$from..$to")
  done
  for slice in "${slices[@]}"; do
    "$mutant_build/tests/sim/raft_sim" --seeds "$slice" >"$scratch/slice-$slice.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!slices[@]}"; do
    if wait "${pids[$i]}"; then continue; fi
    kill "${pids[@]:$((i + 1))}" 2>/dev/null || true
    wait 2>/dev/null || true
    output=$(<"$scratch/slice-${slices[$i]}.log")
    # A failed check prints FAILED; an assertion of the core aborts the
    # seed, and the last line says which.
    grep -m1 '^FAILED' <<<"$output" || tail -n1 <<<"$output"
    return 1
  done
  return 0
}

survivors=0
printf '%-72s %-44s %s\n' "mutation" "result" "time"
for mutation in "${mutations[@]}"; do
  IFS='|' read -r file from to what <<<"$mutation"
  mutant_started=$SECONDS
  mutant_apply "$file" "$from" "$to"
  mutant_tree_build raft_sim "the mutant ($what)"
  if result=$(run_seeds); then
    result="SURVIVED $seeds"
    survivors=$((survivors + 1))
  fi
  printf '%-72s %-44s %s s\n' "$what" "$result" "$((SECONDS - mutant_started))"
  mutant_undo
done
echo "mutation-check: ${#mutations[@]} mutants, $survivors survived, in $((SECONDS - started)) s"
exit $((survivors > 0))
