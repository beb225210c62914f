#!/usr/bin/env bash
# Checks that the simulation catches known-wrong variants of the core: each
# mutation below is applied to a scratch copy of the tree, raft_sim is built
# there, and the first failing seed and the property it broke are printed.
# A mutation that survives the seed range is reported and fails the script.
#
#   tests/sim/mutation-check.sh [SEEDS]      default 1..20000
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seeds=${1:-1..20000}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# file | text to replace | replacement | what the mutation breaks
mutations=(
  "raft/core_replication.cc|  if (log_.term_at(candidate) != term_) return false;|  (void)0;|commit entries of earlier terms by counting replicas (§5.4.2)"
  "raft/core.cc|  const bool grant = can_vote && log_.is_up_to_date(request.last_log_index(), request.last_log_term());|  const bool grant = can_vote;|grant votes without the up-to-date log check (§5.4.1)"
  "raft/core.cc|      if (!request.pre_vote()) become_follower(message.term(), kNoNode);|      become_follower(message.term(), kNoNode);|let a pre-vote request raise the receiver's term (§9.6)"
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
)

# One copy of the tree as it is now, so that edits made while the check runs
# do not leak into later mutants.
mkdir -p "$scratch/pristine"
(cd "$repo" && git ls-files -z | xargs -0 cp --parents -t "$scratch/pristine")

survivors=0
printf '%-72s %s\n' "mutation" "result"
for mutation in "${mutations[@]}"; do
  IFS='|' read -r file from to what <<<"$mutation"
  rm -rf "$scratch/tree" "$scratch/build"
  cp -a "$scratch/pristine" "$scratch/tree"
  target="$scratch/tree/$file"
  text=$(<"$target")
  if [[ $text != *"$from"* || $text == *"$from"*"$from"* ]]; then
    echo "mutation-check: anchor not found exactly once in $file: $from" >&2
    exit 2
  fi
  printf '%s\n' "${text/"$from"/"$to"}" >"$target"
  cmake -S "$scratch/tree" -B "$scratch/build" -G Ninja -DRAFTKV_SANITIZER_TWINS=OFF >/dev/null
  if ! build_log=$(cmake --build "$scratch/build" --target raft_sim 2>&1); then
    echo "mutation-check: the mutant does not build ($what):" >&2
    tail -20 <<<"$build_log" >&2
    exit 2
  fi
  if output=$("$scratch/build/tests/sim/raft_sim" --seeds "$seeds" 2>&1); then
    printf '%-72s %s\n' "$what" "SURVIVED $seeds"
    survivors=$((survivors + 1))
  else
    # A seed that fails a check prints FAILED; one that trips an assertion
    # of the core aborts, and its last line says which.
    printf '%-72s %s\n' "$what" "$(grep -m1 '^FAILED' <<<"$output" || tail -n1 <<<"$output")"
  fi
done
exit $((survivors > 0))
