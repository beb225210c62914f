# Shared by the checks that plant known bugs and require a test to catch
# them (tests/sim/mutation-check.sh, tests/powerloss/skipped-sync-check.sh):
# one scratch copy of the tree, configured once, into which mutations are
# applied and undone one at a time, so that each costs only what it changes.
# Source it; it defines:
#
#   mutant_tree_create REPO SCRATCH   copy REPO's tracked files to SCRATCH/tree
#                                     and configure SCRATCH/build (no sanitizer twins)
#   mutant_tree_build TARGET WHAT     build TARGET there; on failure say WHAT
#                                     did not build and exit 2
#   mutant_apply FILE FROM TO         replace the one occurrence of FROM in FILE
#                                     (relative to the tree) by TO; exit 2 unless
#                                     FROM occurs exactly once
#   mutant_undo                       put back the file mutant_apply changed

mutant_tree_create() {
  mutant_tree=$2/tree
  mutant_build=$2/build
  mkdir -p "$mutant_tree"
  (cd "$1" && git ls-files -z | xargs -0 cp --parents -t "$mutant_tree")
  cmake -S "$mutant_tree" -B "$mutant_build" -G Ninja -DRAFTKV_SANITIZER_TWINS=OFF >/dev/null
}

mutant_tree_build() {
  local log
  if ! log=$(cmake --build "$mutant_build" --target "$1" 2>&1); then
    echo "$(basename "$0"): $2 does not build:" >&2
    tail -20 <<<"$log" >&2
    exit 2
  fi
}

mutant_apply() {
  mutant_file=$mutant_tree/$1
  mutant_original=$(<"$mutant_file")
  if [[ $mutant_original != *"$2"* || $mutant_original == *"$2"*"$2"* ]]; then
    echo "$(basename "$0"): anchor not found exactly once in $1: $2" >&2
    exit 2
  fi
  printf '%s\n' "${mutant_original/"$2"/"$3"}" >"$mutant_file"
}

mutant_undo() {
  printf '%s\n' "$mutant_original" >"$mutant_file"
}
