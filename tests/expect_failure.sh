#!/usr/bin/env bash
# A negative control must fail for its own reason, not for any reason: runs
# COMMAND and passes only if it exits with STATUS and its output (stdout and
# stderr) matches the extended regular expression PATTERN. The output is
# printed either way.
#
#   expect_failure.sh STATUS PATTERN -- COMMAND [ARG...]
set -uo pipefail
if [[ $# -lt 4 || $3 != "--" ]]; then
  echo "usage: expect_failure.sh STATUS PATTERN -- COMMAND [ARG...]" >&2
  exit 2
fi
expected=$1 pattern=$2
shift 3
output=$("$@" 2>&1)
status=$?
printf '%s\n' "$output"
if [[ $status -ne $expected ]]; then
  echo "expect_failure: exit status $status, expected $expected" >&2
  exit 1
fi
if ! grep -Eq -- "$pattern" <<<"$output"; then
  echo "expect_failure: the output does not say why it failed as expected: no match for /$pattern/" >&2
  exit 1
fi
echo "expect_failure: failed as expected (status $status, /$pattern/ found)"
