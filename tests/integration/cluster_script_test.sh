#!/usr/bin/env bash
# deploy/local/cluster.sh and kvctl as a user runs them: start five members
# (on ports of their own), then every kvctl command with its output and
# exit status, then stop. The members are stopped (by PID, from the PID
# files) and the directory removed however the test ends.
#
#   tests/integration/cluster_script_test.sh BUILD_DIR
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$1
export RAFTKV_CLUSTER_DIR=$(mktemp -d)
export RAFTKV_BIN=$build/bin-links
# Seventeen consecutive ports that are free right now, drawn from the range
# the C++ tests' free_port() uses (below the kernel's ephemeral ports), each
# checked by binding it: five for clients, five for peers, two for a sixth
# member, five for the members' metrics.
free_ports() { # COUNT
  python3 - "$1" <<'PY'
import random, socket, sys
count = int(sys.argv[1])
for _ in range(1000):
    first = random.randint(20000, 32000 - count)
    held = []
    try:
        for port in range(first, first + count):
            held.append(socket.socket())
            held[-1].bind(("127.0.0.1", port))
        print(first)
        break
    except OSError:
        pass
    finally:
        for sock in held:
            sock.close()
else:
    sys.exit("no %d consecutive free ports on 127.0.0.1 between 20000 and 32000" % count)
PY
}
RAFTKV_CLIENT_PORT=$(free_ports 17)
export RAFTKV_CLIENT_PORT
export RAFTKV_PEER_PORT=$((RAFTKV_CLIENT_PORT + 5))
export RAFTKV_METRICS_PORT=$((RAFTKV_CLIENT_PORT + 12))
mkdir -p "$RAFTKV_BIN"
ln -sf "$build/daemon/raftkvd" "$RAFTKV_BIN/raftkvd"
ln -sf "$build/tools/kvctl" "$RAFTKV_BIN/kvctl"
cleanup() {
  for pid_file in "$RAFTKV_CLUSTER_DIR"/node-*.pid; do
    [[ -f $pid_file ]] && kill -KILL "$(cat "$pid_file")" 2>/dev/null || true
  done
  rm -rf "$RAFTKV_CLUSTER_DIR"
}
trap cleanup EXIT
kvctl() { "$build/tools/kvctl" "$@"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
expect() { # expected actual what
  [[ $1 == "$2" ]] || fail "$3: expected '$1', got '$2'"
}

# A member that exits at once (here: a flag raftkvd does not know) is
# reported at once, with the end of its log, not after the wait for health.
set +e
started_at=$SECONDS
RAFTKV_CLUSTER_DIR=$RAFTKV_CLUSTER_DIR/broken RAFTKV_DAEMON_ARGS=--no-such-flag \
  "$repo/deploy/local/cluster.sh" start >/dev/null 2>/tmp/broken-$$; status=$?
set -e
[[ $status == 1 ]] && grep -q "^cluster.sh: member [1-5] exited; the end of .*node-[1-5].log:" /tmp/broken-$$ &&
  grep -q "no-such-flag" /tmp/broken-$$ || fail "a member that exits at once: $status $(cat /tmp/broken-$$)"
((SECONDS - started_at < 15)) || fail "cluster.sh took $((SECONDS - started_at)) s to see a member exit"
rm -f /tmp/broken-$$
RAFTKV_CLUSTER_DIR=$RAFTKV_CLUSTER_DIR/broken "$repo/deploy/local/cluster.sh" stop >/dev/null

"$repo/deploy/local/cluster.sh" start
again=$("$repo/deploy/local/cluster.sh" start)
[[ $(grep -c "already running" <<<"$again") == 5 ]] || fail "a second start is not idempotent: $again"
endpoints=""
for id in 0 1 2 3 4; do endpoints+="${endpoints:+,}127.0.0.1:$((RAFTKV_CLIENT_PORT + id))"; done
export KVCTL_ENDPOINTS=$endpoints

# RAFTKV_METRICS_PORT gives member I Prometheus metrics on that port + I - 1.
for id in 1 2 3 4 5; do
  python3 - "$((RAFTKV_METRICS_PORT + id - 1))" "$id" <<'PY' || fail "member $id's metrics"
import sys, urllib.request
port, member = sys.argv[1], sys.argv[2]
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=5).read().decode()
assert 'raftkv_member_info{cluster_id="1",member_id="%s"} 1' % member in text, text[:2000]
PY
done

expect "OK" "$(kvctl put fruit/apple red)" "put"
expect "OK" "$(kvctl put fruit/banana yellow)" "put"
expect $'fruit/apple\nred' "$(kvctl get fruit/apple)" "get"
expect $'fruit/apple\nfruit/banana' "$(kvctl get fruit/ --prefix --keys-only)" "get --prefix --keys-only"
expect "2" "$(kvctl get fruit/ --prefix --count-only)" "get --count-only"
# A serializable read answers from the first endpoint's own state, which
# may not have applied the puts yet: it catches up.
for _ in $(seq 1 50); do
  [[ $(kvctl get fruit/ --prefix --limit 1 --serializable) == $'fruit/apple\nred' ]] && break
  sleep 0.1
done
expect $'fruit/apple\nred' "$(kvctl get fruit/ --prefix --limit 1 --serializable)" "get --limit --serializable"
kvctl get fruit/apple -o json | grep -q '"revision"' || fail "get -o json has no header"
expect "OK" "$(kvctl cas fruit/apple red green)" "cas that holds"
if kvctl cas fruit/apple red blue 2>/tmp/cas-error-$$; then fail "a lost cas exited 0"; fi
grep -q "^kvctl: FAILED_PRECONDITION: " /tmp/cas-error-$$ || fail "a lost cas said: $(cat /tmp/cas-error-$$)"
rm -f /tmp/cas-error-$$
expect "1" "$(kvctl del fruit/banana)" "del"
expect "1" "$(kvctl del fruit/ --prefix)" "del --prefix"
expect "" "$(kvctl get fruit/ --prefix)" "get after del"

# etcdctl's key ranges and value sources. A value over the command line's
# limit comes from standard input or a file, any bytes (NUL included).
head -c 300000 /dev/urandom >"$RAFTKV_CLUSTER_DIR/big-value"
expect "OK" "$(kvctl put big --from-file "$RAFTKV_CLUSTER_DIR/big-value")" "put --from-file"
kvctl get big --print-value-only | head -c -1 | cmp -s - "$RAFTKV_CLUSTER_DIR/big-value" ||
  fail "the value of put --from-file came back different"
expect "OK" "$(kvctl put piped <"$RAFTKV_CLUSTER_DIR/big-value")" "put from standard input"
kvctl get piped --print-value-only | head -c -1 | cmp -s - "$RAFTKV_CLUSTER_DIR/big-value" ||
  fail "the value put from standard input came back different"
expect "OK" "$(printf 'dash\0value' | kvctl put dash -)" "put KEY -"
[[ $(kvctl get dash --print-value-only | od -An -c | tr -s ' ') == " d a s h \0 v a l u e \n" ]] ||
  fail "put KEY - stored: $(kvctl get dash --print-value-only | od -An -c)"
expect $'OK\ndash\ndash value' "$(kvctl put dash plain --prev-kv | tr '\0' ' ')" "put --prev-kv"
expect $'big\ndash\npiped' "$(kvctl get "" --prefix --keys-only)" 'get "" --prefix (every key)'
expect $'dash\npiped' "$(kvctl get c --from-key --keys-only)" "get --from-key"
expect $'big\ndash' "$(kvctl get a e --keys-only)" "get KEY RANGE_END"
expect $'dash\npiped' "$(kvctl get "" --from-key --keys-only --sort-by CREATE --order descend --limit 2)" \
  "get --sort-by CREATE --order descend --limit 2"
expect "plain" "$(kvctl get dash --print-value-only)" "get --print-value-only"
kvctl -w json get "" --prefix --keys-only | python3 -c '
import base64, json, sys
answer = json.load(sys.stdin)
keys = [base64.b64decode(kv["key"]).decode() for kv in answer["kvs"]]
assert keys == ["big", "dash", "piped"], keys
' || fail "get -w json is not the JSON of the three keys"
set +e
kvctl get a e --prefix 2>/tmp/range-usage-$$; status=$?
set -e
[[ $status == 2 ]] && grep -q "range_end excludes --prefix" /tmp/range-usage-$$ ||
  fail "RANGE_END with --prefix: $status $(cat /tmp/range-usage-$$)"
set +e
kvctl put k v --from-file "$RAFTKV_CLUSTER_DIR/big-value" 2>/tmp/range-usage-$$; status=$?
set -e
[[ $status == 2 ]] || fail "a VALUE with --from-file exited $status: $(cat /tmp/range-usage-$$)"
rm -f /tmp/range-usage-$$ "$RAFTKV_CLUSTER_DIR/big-value"
# A serializable read answers from the endpoint named (its member id in the
# header), not from the leader, which any other request goes to.
leader_id=$(kvctl endpoint status | awk '$4 == "true" {print $2}')
other_id=$((leader_id % 5 + 1))
other=127.0.0.1:$((RAFTKV_CLIENT_PORT + other_id - 1))
answered_by() { python3 -c 'import json, sys; print(json.load(sys.stdin)["header"]["member_id"])'; }
expect "$other_id" "$(kvctl --endpoints "$other,$endpoints" get dash --serializable -w json | answered_by)" \
  "the member that answered a serializable read"
expect "$leader_id" "$(kvctl --endpoints "$other,$endpoints" get dash -w json | answered_by)" \
  "the member that answered a linearizable read"
expect "1" "$(kvctl del big)" "del big"
expect "1" "$(kvctl del piped)" "del piped"
expect $'1\ndash\nplain' "$(kvctl del "" --from-key --prev-kv)" 'del "" --from-key --prev-kv'
expect "" "$(kvctl get "" --prefix)" "every key deleted"
[[ $(kvctl member list | wc -l) == 6 ]] || fail "member list: $(kvctl member list)"
[[ $(kvctl endpoint status | grep -c true) == 1 ]] || fail "endpoint status shows one leader: $(kvctl endpoint status)"
[[ $(kvctl endpoint health | grep -c ' true ') == 5 ]] || fail "endpoint health: $(kvctl endpoint health)"
first_endpoint=127.0.0.1:$RAFTKV_CLIENT_PORT
[[ $(kvctl --endpoints "$first_endpoint" endpoint status --cluster | grep -c ' KiB ') == 5 ]] ||
  fail "endpoint status --cluster: $(kvctl --endpoints "$first_endpoint" endpoint status --cluster)"
[[ $(kvctl --endpoints "$first_endpoint" -w json endpoint health --cluster | grep -c '"health":true') == 5 ]] ||
  fail "endpoint health --cluster: $(kvctl --endpoints "$first_endpoint" -w json endpoint health --cluster)"
# -w table draws boxes (etcdctl's table); simple is the aligned columns above.
boxed=$(kvctl -w table endpoint status)
[[ $(head -1 <<<"$boxed") =~ ^\+-+\+ && $(sed -n 2p <<<"$boxed") =~ ^\|\ ENDPOINT\ +\|\ ID\ +\| &&
   $(grep -c '^| 127.0.0.1:' <<<"$boxed") == 5 && $(tail -1 <<<"$boxed") =~ ^\+-+\+ ]] ||
  fail "endpoint status -w table: $boxed"
[[ $(kvctl -w table member list | grep -c '^| [1-5] ') == 5 ]] || fail "member list -w table: $(kvctl -w table member list)"
[[ $(kvctl --version) =~ ^kvctl\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "kvctl --version: $(kvctl --version)"
kvctl get --help | grep -q "Global options .*--endpoints" || fail "get --help names no global options"
# An endpoint that does not answer shows blanks, not zeros.
down_row=$(kvctl --endpoints "127.0.0.1:1,$first_endpoint" --command-timeout 2s endpoint status | grep '^127.0.0.1:1 ' || true)
[[ $down_row =~ ^127\.0\.0\.1:1\ +[a-z] ]] || fail "a down endpoint's row: $down_row"
# Once every member applied the same entries, their digests agree.
for _ in $(seq 1 50); do
  [[ $(kvctl endpoint hash | tail -n +2 | awk '{print $3, $5}' | sort -u | wc -l) == 1 ]] && break
  sleep 0.1
done
[[ $(kvctl endpoint hash | tail -n +2 | awk '{print $3, $5}' | sort -u | wc -l) == 1 ]] ||
  fail "members disagree: $(kvctl endpoint hash)"
# JSON output: one document per command (an array for the commands that ask
# every endpoint), every field present, integers as numbers, the digest as in
# the table.
kvctl -w json endpoint status | python3 -c '
import json, sys
answers = json.load(sys.stdin)
assert len(answers) == 5, answers
for answer in answers:
    status = answer["status"]
    assert answer["error"] == "", answer
    for field in ("leader", "commit_index", "applied_index", "first_log_index", "last_log_index"):
        assert type(status[field]) is int, (field, status)
    assert type(status["header"]["member_id"]) is int and status["header"]["member_id"] > 0, status
assert len({a["status"]["leader"] for a in answers}) == 1, answers
assert all(a["status"]["version"] == sys.argv[1] for a in answers), (sys.argv[1], answers)
' "$(kvctl --version | cut -d" " -f2)" || fail "endpoint status -w json: $(kvctl -w json endpoint status)"
kvctl -w json endpoint health | python3 -c '
import json, sys
answers = json.load(sys.stdin)
assert len(answers) == 5 and all(a["health"] is True and a["error"] == "" for a in answers), answers
' || fail "endpoint health -w json: $(kvctl -w json endpoint health)"
table_digest=$(kvctl endpoint hash | awk 'NR == 2 {print $5}')
kvctl -w json endpoint hash | python3 -c '
import json, sys
answers = json.load(sys.stdin)
assert len(answers) == 5, answers
assert answers[0]["digest"] == sys.argv[1], (answers[0], sys.argv[1])
assert all(type(a["applied_index"]) is int and type(a["keys"]) is int for a in answers), answers
' "$table_digest" || fail "endpoint hash -w json: $(kvctl -w json endpoint hash)"
kvctl -w json get nothing-here | python3 -c '
import json, sys
answer = json.load(sys.stdin)
assert answer["kvs"] == [] and answer["count"] == 0 and answer["more"] is False, answer
assert type(answer["header"]["revision"]) is int and answer["header"]["revision"] > 0, answer
' || fail "get -w json of a missing key: $(kvctl -w json get nothing-here)"
[[ $(kvctl endpoint hash | tail -n +2 | awk '{print $4}' | sort -u) == 0 ]] || fail "endpoint hash keys (all deleted above): $(kvctl endpoint hash)"
expect "OK" "$(kvctl leader transfer 3)" "leader transfer"
for _ in $(seq 1 50); do
  kvctl endpoint status | awk '$2 == 3 && $4 == "true"' | grep -q . && break
  sleep 0.1
done
kvctl endpoint status | awk '$2 == 3 && $4 == "true"' | grep -q . || fail "member 3 did not become leader"
# A transfer to a member that cannot take over (stopped by SIGSTOP) fails,
# saying so, and leadership stays where it was.
kill -STOP "$(cat "$RAFTKV_CLUSTER_DIR/node-5.pid")"
set +e
kvctl leader transfer 5 2>/tmp/transfer-stopped-$$; status=$?
set -e
kill -CONT "$(cat "$RAFTKV_CLUSTER_DIR/node-5.pid")"
[[ $status == 1 ]] && grep -q "^kvctl: DEADLINE_EXCEEDED: node 5 did not take over" /tmp/transfer-stopped-$$ ||
  fail "transfer to a stopped member: $status $(cat /tmp/transfer-stopped-$$)"
rm -f /tmp/transfer-stopped-$$
# Member 5 may act on the TimeoutNow waiting for it once resumed: let the
# cluster settle on one leader, every member healthy.
for _ in $(seq 1 100); do
  [[ $(kvctl endpoint health | grep -c ' true ') == 5 ]] && break
  sleep 0.1
done

# Membership: a sixth member starts empty and joins; it is added (as a
# learner, then promoted once caught up), listed, and removed again, after
# which it refuses clients saying why. Its PID file is where cleanup looks.
peer6=127.0.0.1:$((RAFTKV_CLIENT_PORT + 11))
client6=127.0.0.1:$((RAFTKV_CLIENT_PORT + 10))
peers=""
for id in 1 2 3 4 5; do peers+="${peers:+,}$id=127.0.0.1:$((RAFTKV_PEER_PORT + id - 1))"; done
"$build/daemon/raftkvd" --id 6 --data-dir "$RAFTKV_CLUSTER_DIR/node-6" --initial-cluster-state existing \
  --listen-peer "$peer6" --listen-client "$client6" --peers "$peers" >>"$RAFTKV_CLUSTER_DIR/node-6.log" 2>&1 &
echo $! >"$RAFTKV_CLUSTER_DIR/node-6.pid"
kvctl member add 6 "$peer6" --client-addr "$client6" >/tmp/member-add-$$ || fail "member add: $(cat /tmp/member-add-$$)"
expect "member 6 added as a voter" "$(head -1 /tmp/member-add-$$)" "member add"
rm -f /tmp/member-add-$$
kvctl member list | awk '$1 == 6 && $2 == "voter"' | grep -q . || fail "member list after add: $(kvctl member list)"
[[ $(kvctl member list | awk '$1 != "ID" && $5 == "-"' | wc -l) == 0 ]] ||
  fail "member list shows no match index for some: $(kvctl member list)"
set +e
kvctl member promote 6 2>/tmp/promote-$$; status=$?
set -e
[[ $status == 1 ]] || fail "promoting a voter exited $status"
grep -q "^kvctl: FAILED_PRECONDITION: .*is a voter already" /tmp/promote-$$ || fail "promote said: $(cat /tmp/promote-$$)"
set +e
kvctl member add 7 "" 2>/tmp/add-$$; status=$?
set -e
[[ $status == 1 ]] && grep -q "INVALID_ARGUMENT: .*peer address" /tmp/add-$$ || fail "add without an address: $status $(cat /tmp/add-$$)"
rm -f /tmp/promote-$$ /tmp/add-$$
expect "member 6 removed" "$(kvctl member remove 6 | head -1)" "member remove"
[[ $(kvctl member list | awk '$1 == 6' | wc -l) == 0 ]] || fail "member list after remove: $(kvctl member list)"
# Asked itself (a serializable read goes to the endpoint given), the removed
# member says so once it has learned it from the first member it calls;
# until then it may answer from its own state, as a serializable read allows.
removed_says=""
for _ in $(seq 1 50); do
  removed_says=$(kvctl --endpoints "$client6" --command-timeout 1 get k --serializable 2>&1) || true
  grep -q "removed from the cluster" <<<"$removed_says" && break
  sleep 0.1
done
grep -q "removed from the cluster" <<<"$removed_says" || fail "the removed member said: $removed_says"
set +e
kvctl member add 6 "$peer6" --learner 2>/tmp/readd-$$; status=$?
set -e
[[ $status == 1 ]] && grep -q "needs a new id" /tmp/readd-$$ || fail "re-adding a removed id: $status $(cat /tmp/readd-$$)"
set +e
kvctl leader transfer 6 2>/tmp/transfer-$$; status=$?
set -e
[[ $status == 1 ]] && grep -q "INVALID_ARGUMENT: node 6 is not a voter" /tmp/transfer-$$ ||
  fail "transfer to a non-member: $status $(cat /tmp/transfer-$$)"
rm -f /tmp/readd-$$ /tmp/transfer-$$
kill -TERM "$(cat "$RAFTKV_CLUSTER_DIR/node-6.pid")"

# kvctl bench: a second of each workload, and its JSON report.
for workload in put get mixed; do
  report=$(kvctl -o json bench $workload --clients 8 --conns 2 --duration 1 --warmup 0.2 --key-space-size 100)
  grep -q '"errors":0,' <<<"$report" || fail "bench $workload: $report"
  grep -Eq '"ops_per_second":[1-9]' <<<"$report" || fail "bench $workload measured nothing: $report"
  grep -q '"p99":' <<<"$report" || fail "bench $workload has no p99: $report"
done
expect "raftkv put: 2 clients over 1 connection, 10 keys of 16 B, values of 8 B" \
  "$(kvctl bench put --clients 2 --total 50 --warmup 0 --key-space-size 10 --val-size 8 | head -1)" "bench text report"
set +e
kvctl bench put --key-space-size 1000 --key-size 2 2>/dev/null; status=$?
set -e
[[ $status == 2 ]] || fail "keys that cannot fit exited $status"

# Errors: one line, non-zero exit.
set +e
kvctl put "" value 2>/tmp/empty-$$; status=$?
set -e
[[ $status == 1 ]] || fail "an empty key exited $status"
expect "kvctl: INVALID_ARGUMENT: the key is empty" "$(cat /tmp/empty-$$)" "empty key message"
rm -f /tmp/empty-$$
set +e
kvctl frobnicate 2>/dev/null; status=$?
set -e
[[ $status == 2 ]] || fail "an unknown command exited $status"
set +e
KVCTL_ENDPOINTS=127.0.0.1:1 kvctl --command-timeout 1 get k 2>/dev/null; status=$?
set -e
[[ $status == 1 ]] || fail "an unreachable endpoint exited $status"
# A write is retried elsewhere only when it certainly did not apply: an
# endpoint that takes no connection never saw it.
set +e
KVCTL_ENDPOINTS=127.0.0.1:1 kvctl --command-timeout 1 put k v 2>/tmp/unreachable-$$; status=$?
set -e
[[ $status == 1 ]] || fail "a write to an unreachable endpoint exited $status"
grep -q "^kvctl: UNAVAILABLE: cannot connect to 127.0.0.1:1 (is the member down, or does it use TLS?" /tmp/unreachable-$$ ||
  fail "unreachable write message: $(cat /tmp/unreachable-$$)"
rm -f /tmp/unreachable-$$
expect "OK" "$(kvctl --endpoints "127.0.0.1:1,$endpoints" put failover yes)" "a write past a dead endpoint"
# Errors that cannot change are said at once, in words: a peer address
# given for a client one, a host name that does not resolve; bad numbers
# and durations are usage errors without CLI11's 300-digit bounds.
set +e
kvctl --endpoints "127.0.0.1:$RAFTKV_PEER_PORT" get k 2>/tmp/errors-$$; status=$?
set -e
[[ $status == 1 ]] && grep -q "^kvctl: UNIMPLEMENTED: 127.0.0.1:$RAFTKV_PEER_PORT does not serve raftkv's client API" /tmp/errors-$$ ||
  fail "a peer address: $status $(cat /tmp/errors-$$)"
set +e
kvctl --endpoints no-such-host.invalid:9001 get k 2>/tmp/errors-$$; status=$?
set -e
[[ $status == 1 ]] && grep -q "its host name does not resolve" /tmp/errors-$$ || fail "an unknown host: $status $(cat /tmp/errors-$$)"
for usage in "get k --limit -1" "--command-timeout 5x get k" "member remove 0"; do
  set +e
  kvctl $usage 2>/tmp/errors-$$; status=$?
  set -e
  [[ $status == 2 && $(wc -l </tmp/errors-$$) == 1 && $(wc -c </tmp/errors-$$) -lt 100 ]] ||
    fail "kvctl $usage: $status $(cat /tmp/errors-$$)"
done
expect "fruit/x" "$(kvctl --endpoints "http://${endpoints//,/,http://}" --command-timeout 2s put fruit/x y >/dev/null &&
  kvctl --endpoints "http://127.0.0.1:$RAFTKV_CLIENT_PORT/" get fruit/x --keys-only)" "URL endpoints and a 2s timeout"
expect "1" "$(kvctl del fruit/x)" "del fruit/x"
# Quorum lost (the leader and two more killed; the members restart with the
# TLS step below): the live members' "no leader is known" is what kvctl
# reports, not gRPC's "Deadline Exceeded".
leader_id=$(kvctl endpoint status | awk '$4 == "true" {print $2}')
for id in "$leader_id" $((leader_id % 5 + 1)) $(((leader_id + 1) % 5 + 1)); do
  kill -KILL "$(cat "$RAFTKV_CLUSTER_DIR/node-$id.pid")"
done
set +e
kvctl --command-timeout 5s put quorum lost 2>/tmp/errors-$$; status=$?
set -e
[[ $status == 1 ]] && grep -q "no leader is known" /tmp/errors-$$ || fail "a write without a quorum: $status $(cat /tmp/errors-$$)"
rm -f /tmp/errors-$$

"$repo/deploy/local/cluster.sh" stop

# The same members restarted with TLS everywhere (RAFTKV_TLS=1): kvctl needs
# the CA and a client certificate, which start prints.
started=$(RAFTKV_TLS=1 "$repo/deploy/local/cluster.sh" start)
grep -q "^export KVCTL_CACERT=$RAFTKV_CLUSTER_DIR/certs/ca.crt " <<<"$started" || fail "TLS start said: $started"
eval "$(grep "^export KVCTL_CACERT" <<<"$started")"
expect "OK" "$(kvctl put secure yes)" "put over TLS"
expect $'failover\nyes' "$(kvctl get failover)" "a key written before, over TLS"
expect $'secure\nyes' "$(kvctl get secure)" "get over TLS"
set +e
KVCTL_CERT= KVCTL_KEY= kvctl --command-timeout 1 get secure 2>/tmp/no-cert-$$; status=$?
set -e
[[ $status == 1 ]] || fail "a client without a certificate exited $status"
grep -q "does it require a client certificate" /tmp/no-cert-$$ || fail "no certificate said: $(cat /tmp/no-cert-$$)"
rm -f /tmp/no-cert-$$
# A CA that did not sign the members' certificates: the handshake fails,
# which no retry changes, so kvctl says so at once, not after its timeout.
"$repo/deploy/local/make-certs.sh" "$RAFTKV_CLUSTER_DIR/other-ca" 1 >/dev/null 2>&1
asked_at=$SECONDS
set +e
kvctl --cacert "$RAFTKV_CLUSTER_DIR/other-ca/ca.crt" --command-timeout 20s get secure 2>/tmp/other-ca-$$; status=$?
set -e
[[ $status == 1 ]] && grep -q "^kvctl: UNAVAILABLE: cannot connect to .*: the TLS handshake failed: " /tmp/other-ca-$$ ||
  fail "another CA: $status $(cat /tmp/other-ca-$$)"
((SECONDS - asked_at < 15)) || fail "another CA was retried until the timeout: $(cat /tmp/other-ca-$$)"
rm -f /tmp/other-ca-$$
RAFTKV_TLS=1 "$repo/deploy/local/cluster.sh" stop
echo "cluster_script_test: passed"
