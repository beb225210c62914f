#!/usr/bin/env bash
# Checks deploy/ offline, as far as it can be without a cluster, a systemd
# PID 1 or a container engine, and says what it did not check:
#   - Kubernetes: yamllint (strict); the manifests' agreement with each other
#     and with raftkvd's discovery (check_kubernetes_manifests.py);
#     `kubectl kustomize` when kubectl is installed. `kubectl --dry-run=client`
#     needs an API server for its schema, so it is not run.
#   - systemd: `systemd-analyze verify` (no warnings allowed) and the offline
#     security score of the hardening options; the shipped config file is
#     accepted by raftkvd, which starts with it and stops on SIGTERM.
#   - Container: every COPY source exists, every runtime package exists in
#     Debian 12, and every shared library raftkvd and kvctl link comes from
#     one of them (or the base image). The image itself is not built here:
#     it needs a container engine and the debian:12 image.
#
#   deploy_check.sh BUILD_DIR
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$1
deploy=$repo/deploy
scratch=$(mktemp -d)
raftkvd_pid=""
cleanup() {
  [[ -n $raftkvd_pid ]] && kill -9 "$raftkvd_pid" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
failed=0
fail() { echo "FAIL  $*"; failed=1; }
ok() { echo "ok    $*"; }

echo "== Kubernetes manifests"
if yamllint -s -c "$deploy/.yamllint" "$deploy/kubernetes"; then ok "yamllint -s"; else fail "yamllint"; fi
/usr/bin/python3 "$repo/tests/integration/check_kubernetes_manifests.py" "$deploy/kubernetes" || failed=1
if command -v kubectl >/dev/null 2>&1; then
  if kubectl kustomize "$deploy/kubernetes" >"$scratch/rendered.yaml"; then
    ok "kubectl kustomize renders $(grep -c '^kind:' "$scratch/rendered.yaml") objects"
  else
    fail "kubectl kustomize"
  fi
else
  echo "not checked: kubectl kustomize (kubectl is not installed)"
fi
echo "not checked: kubectl --dry-run=client (it needs an API server)"

echo "== systemd unit"
# verify wants ExecStart's program to exist: point it at the one just built.
sed "s|/usr/local/bin/raftkvd|$build/daemon/raftkvd|" "$deploy/systemd/raftkvd.service" >"$scratch/raftkvd.service"
if systemd-analyze verify "$scratch/raftkvd.service" >"$scratch/verify.txt" 2>&1 && [[ ! -s $scratch/verify.txt ]]; then
  ok "systemd-analyze verify: no warnings"
else
  cat "$scratch/verify.txt"
  fail "systemd-analyze verify"
fi
# The score runs 0 (locked down) to 10 (unprotected); --threshold is in tenths.
if systemd-analyze security --offline=yes --threshold=15 "$scratch/raftkvd.service" >"$scratch/security.txt" 2>&1; then
  ok "$(grep -o 'Overall exposure level.*' "$scratch/security.txt") (at most 1.5 allowed)"
else
  tail -1 "$scratch/security.txt"
  fail "systemd-analyze security: exposure above 1.5"
fi
echo "not checked: the unit running under systemd (no systemd PID 1 here)"

# The example config file is one raftkvd accepts (listening on loopback, and
# asking a DNS server that is not there: it starts anyway and keeps trying).
: >"$scratch/raftkvd.log"
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
"$build/daemon/raftkvd" --config "$deploy/systemd/raftkvd.conf" --name raftkv-0 --data-dir "$scratch/data" \
  --listen-peer "127.0.0.1:$(port)" --listen-client "127.0.0.1:$(port)" --dns-server "127.0.0.1:$(port)" \
  >"$scratch/raftkvd.log" 2>&1 &
raftkvd_pid=$!
for _ in $(seq 1 100); do
  grep -q "serving clients" "$scratch/raftkvd.log" && break
  kill -0 "$raftkvd_pid" 2>/dev/null || break
  sleep 0.1
done
if grep -q "member 1 of cluster" "$scratch/raftkvd.log"; then
  ok "raftkvd starts with deploy/systemd/raftkvd.conf (as member 1, from the name raftkv-0)"
else
  cat "$scratch/raftkvd.log"
  fail "raftkvd with deploy/systemd/raftkvd.conf"
fi
grep -q "peer discovery: the server failed, refused or was unreachable" "$scratch/raftkvd.log" && ok "... logs that the DNS server cannot be reached, and keeps running" || fail "no DNS failure logged"
kill -TERM "$raftkvd_pid" 2>/dev/null || true
wait "$raftkvd_pid" 2>/dev/null && ok "... and stops on SIGTERM with status 0" || fail "raftkvd did not stop cleanly"
raftkvd_pid=""

echo "== Containerfile"
containerfile=$deploy/container/Containerfile
while read -r source; do
  [[ -e $repo/$source ]] && ok "COPY source $source exists" || fail "COPY source $source is missing"
done < <(awk '$1 == "COPY" && $2 !~ /^--from/ { for (i = 2; i < NF; i++) print $i }' "$containerfile")
runtime=$(awk '/install -y --no-install-recommends/ { on = 1; next } on && /&&/ { on = 0 } on { print }' \
  "$containerfile" | tr -d '\\' | xargs)
# One look-up for all of them (each apt-cache call loads the whole index).
# shellcheck disable=SC2086 # one word per package
indexed=" $(apt-cache show $runtime 2>/dev/null | awk '/^Package: / { print $2 }' | sort -u | xargs) "
missing_runtime=0
for package in $runtime; do
  if [[ $indexed != *" $package "* ]]; then
    fail "runtime package $package is not in Debian's index"
    missing_runtime=1
  fi
done
[[ $missing_runtime -eq 0 ]] && ok "runtime packages exist in Debian: $runtime"
base="libc6 libstdc++6 libgcc-s1"  # in debian:12-slim
# Which package owns each library: one dpkg query for all of them (each
# query reads dpkg's whole file list, so one per library would cost as much
# as the machine has packages installed). A library is registered under the
# path ldd prints or, on a merged /usr, under the path it resolves to.
binaries=("$build/daemon/raftkvd" "$build/tools/kvctl")
declare -A libraries_of
paths=()
for binary in "${binaries[@]}"; do
  libraries_of[$binary]=$(ldd "$binary" | awk '/=>/ { print $3 }')
  for library in ${libraries_of[$binary]}; do paths+=("$library" "$(readlink -f "$library")"); done
done
declare -A owner_of
while IFS= read -r line; do
  # "libfoo1:amd64: /usr/lib/x86_64-linux-gnu/libfoo.so.1" (or "a, b: PATH" for a diversion)
  packages=${line%%: /*}
  owner=${packages%%,*}
  owner_of["/${line#*: /}"]=${owner%%:*}
done < <(dpkg-query -S "${paths[@]}" 2>/dev/null || true)
for binary in "${binaries[@]}"; do
  for library in ${libraries_of[$binary]}; do
    owner=${owner_of[$library]:-${owner_of[$(readlink -f "$library")]:-}}
    if [[ -z $owner ]]; then
      fail "$(basename "$binary") links $library, which no package owns"
    elif [[ " $runtime $base " != *" $owner "* ]]; then
      fail "$(basename "$binary") links $library from $owner, which the image does not install"
    fi
  done
done
[[ $failed -eq 0 ]] && ok "every shared library of raftkvd and kvctl is in the image"
echo "not checked: building the image (no container engine or base image here)"

exit $failed
