#!/usr/bin/env bash
# raftkv and etcd side by side on this machine: five members of each on
# 127.0.0.1 (etcd 3.4 from Debian's etcd-server, started and stopped here),
# the same closed-loop workloads from `kvctl bench` against both,
# interleaved so that both see the same machine, then one table.
#
#   tools/bench/compare-etcd.sh [--duration SECONDS] [--rounds N] [--out FILE]
#
# Workloads (256-byte values; every write synced to disk by both systems --
# etcd's default, raftkv's only mode):
#   put-64   64 clients over 8 connections, writes to the leader
#   put-1    1 client, sequential writes to the leader
#   get-64   64 clients over 8 connections, linearizable reads from all five
# Resident memory per member is read from /proc after the put-64 runs.
# A third "system", floor, is grpc_floor_server (tests/bench): an
# etcd-shaped server that answers at once, run with the same client and
# workloads. Its ops/s are the ceiling any server taking one gRPC call per
# operation reaches on this machine, the client's own cost included.
# Each round runs every workload on both systems (which goes first
# alternates); the table reports the median round. Raw JSON lines go to
# --out (default: a file in the work directory, printed at the end).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
duration=10
rounds=3
out=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "compare-etcd.sh: unknown option $1 (--duration S, --rounds N, --out FILE)" >&2; exit 2 ;;
  esac
done

"$repo/tools/dev/build.sh" --target raftkvd kvctl grpc_floor_server >/dev/null
if ! command -v etcd >/dev/null; then
  as_root=()
  [[ $(id -u) == 0 ]] || as_root=(sudo)
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends etcd-server >/dev/null
fi
kvctl=$repo/build/tools/kvctl

work=$(mktemp -d /tmp/raftkv-vs-etcd.XXXXXX)
out=${out:-$work/results.jsonl}
etcd_pids=()
floor_pid=""
cleanup() {
  [[ -z $floor_pid ]] || kill -KILL "$floor_pid" 2>/dev/null || true
  for pid in "${etcd_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  RAFTKV_CLUSTER_DIR=$work/raftkv "$repo/deploy/local/cluster.sh" stop >/dev/null 2>&1 || true
  for pid_file in "$work"/raftkv/node-*.pid; do
    [[ -f $pid_file ]] && kill -KILL "$(cat "$pid_file")" 2>/dev/null || true
  done
  rm -rf "$work/etcd" "$work/raftkv"
}
trap cleanup EXIT

# etcd: clients on 24101-24105, peers on 24111-24115.
etcd_endpoints="" initial=""
for id in 1 2 3 4 5; do
  etcd_endpoints+="${etcd_endpoints:+,}127.0.0.1:$((24100 + id))"
  initial+="${initial:+,}etcd-$id=http://127.0.0.1:$((24110 + id))"
done
mkdir -p "$work/etcd"
for id in 1 2 3 4 5; do
  etcd --name "etcd-$id" --data-dir "$work/etcd/etcd-$id" \
    --listen-client-urls "http://127.0.0.1:$((24100 + id))" --advertise-client-urls "http://127.0.0.1:$((24100 + id))" \
    --listen-peer-urls "http://127.0.0.1:$((24110 + id))" --initial-advertise-peer-urls "http://127.0.0.1:$((24110 + id))" \
    --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token raftkv-vs-etcd \
    >"$work/etcd/etcd-$id.log" 2>&1 &
  etcd_pids+=($!)
  disown  # killed by PID in cleanup; no job-control notices
done

# The floor: one process on 24200.
floor_endpoint=127.0.0.1:24200
"$repo/build/tests/bench/grpc_floor_server" --listen "$floor_endpoint" >"$work/floor.log" 2>&1 &
floor_pid=$!
disown

# raftkv: clients on 24001-24005, peers on 24011-24015.
# Metrics on 24021-24025, for the replication counters below.
export RAFTKV_CLUSTER_DIR=$work/raftkv RAFTKV_CLIENT_PORT=24001 RAFTKV_PEER_PORT=24011 RAFTKV_METRICS_PORT=24021
"$repo/deploy/local/cluster.sh" start >/dev/null
raftkv_endpoints=127.0.0.1:24001,127.0.0.1:24002,127.0.0.1:24003,127.0.0.1:24004,127.0.0.1:24005
raftkv_pids=$(cat "$work"/raftkv/node-*.pid | tr '\n' ' ')

for _ in $(seq 1 100); do
  "$kvctl" --endpoints "$etcd_endpoints" bench put --target etcd --total 1 --warmup 0 --no-progress >/dev/null 2>&1 && break
  sleep 0.2
done

# The leaders' client addresses: writes go there in both systems.
raftkv_leader=$("$kvctl" --endpoints "$raftkv_endpoints" -o json endpoint status |
  python3 -c 'import json,sys
for e in json.load(sys.stdin):
    s = e["status"] or {}
    if s.get("leader") and s.get("leader") == (s.get("header") or {}).get("member_id"): print(e["endpoint"])')
etcd_leader=$(python3 - "$etcd_endpoints" <<'PY'
import json, sys, urllib.request
for endpoint in sys.argv[1].split(","):
    request = urllib.request.Request("http://%s/v3/maintenance/status" % endpoint, data=b"{}", method="POST")
    status = json.load(urllib.request.urlopen(request, timeout=2))
    if status.get("leader") == status.get("header", {}).get("member_id"):
        print(endpoint)
PY
)
[[ -n $raftkv_leader && -n $etcd_leader ]] || { echo "compare-etcd.sh: no leader (raftkv '$raftkv_leader', etcd '$etcd_leader')" >&2; exit 1; }

cpu_ticks() { # pids...: user + system CPU time of the processes so far, in clock ticks
  local total=0
  for pid in "$@"; do total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
  echo $total
}

rss_mib() { # pids...: the mean resident set of the processes, MiB
  local total=0
  for pid in "$@"; do total=$((total + $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status"))); done
  echo $((total / $# / 1024))
}

raftkv_counters() { # the five members' replication counters, summed, as JSON
  python3 - <<'PY'
import json, urllib.request
wanted = {"raftkv_append_entries_sent_total": "append_entries", "raftkv_entries_sent_total": "entries",
          "raftkv_disk_sync_duration_seconds_count": "syncs"}
totals = dict.fromkeys(wanted.values(), 0)
for port in range(24021, 24026):
    for line in urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode().splitlines():
        name, _, value = line.partition(" ")
        if name in wanted: totals[wanted[name]] += float(value)
print(json.dumps(totals))
PY
}

run() { # system workload
  local system=$1 workload=$2 endpoints leader target pids
  case $system in
    etcd) endpoints=$etcd_endpoints leader=$etcd_leader target=etcd pids="${etcd_pids[*]}" ;;
    raftkv) endpoints=$raftkv_endpoints leader=$raftkv_leader target=raftkv pids=$raftkv_pids ;;
    floor) endpoints=$floor_endpoint leader=$floor_endpoint target=etcd pids=$floor_pid ;;
  esac
  local common=(--target "$target" --val-size 256 --key-space-size 100000 --duration "$duration" --warmup 2 --no-progress)
  local report
  local ticks_before counters_before="{}" counters_after="{}"
  ticks_before=$(cpu_ticks $pids)
  [[ $system != raftkv ]] || counters_before=$(raftkv_counters)
  case $workload in
    put-64) report=$("$kvctl" -o json --endpoints "$leader" bench put --clients 64 --conns 8 "${common[@]}") ;;
    put-1) report=$("$kvctl" -o json --endpoints "$leader" bench put --clients 1 --conns 1 "${common[@]}") ;;
    get-64) report=$("$kvctl" -o json --endpoints "$endpoints" bench get --clients 64 --conns 8 --consistency l "${common[@]}") ;;
  esac
  # The members' CPU over the whole run, warm-up included (divided below by
  # the operations of the whole run, at the measured rate).
  local ticks=$(($(cpu_ticks $pids) - ticks_before))
  [[ $system != raftkv ]] || counters_after=$(raftkv_counters)
  local rss=""
  [[ $workload == put-64 && $system != floor ]] && rss=$(rss_mib $pids)
  echo "{\"system\":\"$system\",\"workload\":\"$workload\",\"round\":$round,\"rss_mib\":\"$rss\",\"cpu_ticks\":$ticks,\"ticks_per_second\":$(getconf CLK_TCK),\"counters_before\":$counters_before,\"counters_after\":$counters_after,\"report\":$report}" >>"$out"
  echo "round $round: $system $workload: $(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("%.0f ops/s, p50 %.2f ms, p99 %.2f ms, %d errors" % (r["ops_per_second"], r["latency_ms"]["p50"], r["latency_ms"]["p99"], r["errors"]))' "$report")${rss:+, $rss MiB per member}"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); etcd $(etcd --version | head -1 | awk '{print $3}'); raftkv $(git -C "$repo" rev-parse --short HEAD)"
echo "raftkv leader $raftkv_leader, etcd leader $etcd_leader; $rounds rounds of ${duration} s per run"
for ((round = 1; round <= rounds; round++)); do
  for workload in put-64 put-1 get-64; do
    if ((round % 2)); then run etcd $workload; run raftkv $workload; else run raftkv $workload; run etcd $workload; fi
    run floor $workload
  done
done

python3 - "$out" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
def median(values): return statistics.median(values) if values else float("nan")
print()
print("%-7s %-8s %10s %9s %9s %14s %14s %7s" % ("system", "workload", "ops/s", "p50 ms", "p99 ms", "RSS MiB/node", "CPU us/op", "errors"))
rows = {}
for system in ("raftkv", "etcd", "floor"):
    for workload in ("put-64", "put-1", "get-64"):
        mine = [r for r in runs if r["system"] == system and r["workload"] == workload]
        ops = median([r["report"]["ops_per_second"] for r in mine])
        p50 = median([r["report"]["latency_ms"]["p50"] for r in mine])
        p99 = median([r["report"]["latency_ms"]["p99"] for r in mine])
        rss = [int(r["rss_mib"]) for r in mine if r["rss_mib"]]
        errors = sum(r["report"]["errors"] for r in mine)
        # CPU of all five members per operation: over the whole run, warm-up
        # (2 s) included, at the measured rate.
        # (For the floor: its server process alone.)
        cpu = median([r["cpu_ticks"] / r["ticks_per_second"] * 1e6 /
                      max(1.0, r["report"]["ops_per_second"] * (r["report"]["seconds"] + 2)) for r in mine])
        rows[system, workload] = (ops, p50, p99, median(rss) if rss else None)
        print("%-7s %-8s %10.0f %9.2f %9.2f %14s %14.0f %7d" % (system, workload, ops, p50, p99,
              "%.0f" % median(rss) if rss else "", cpu, errors))
print()
# How raftkv's replication batched, over the whole of each run (warm-up
# included): entries per AppendEntries the leader sent, and disk syncs per
# write on each member.
for workload in ("put-64", "put-1"):
    mine = [r for r in runs if r["system"] == "raftkv" and r["workload"] == workload and r.get("counters_after")]
    def delta(r, key): return r["counters_after"][key] - r["counters_before"][key]
    per_append = median([delta(r, "entries") / max(1.0, delta(r, "append_entries")) for r in mine])
    syncs = median([delta(r, "syncs") / 5 / max(1.0, r["report"]["ops_per_second"] * (r["report"]["seconds"] + 2))
                    for r in mine])
    print("raftkv %s: %.1f entries per AppendEntries, %.3f disk syncs per write per member" % (workload, per_append, syncs))
r, e = rows.get, rows.get
print("raftkv / etcd: put-64 throughput %.2fx, put-64 p99 %.2fx, put-1 p50 %.2fx, get-64 throughput %.2fx, memory %.2fx" % (
    r(("raftkv", "put-64"))[0] / e(("etcd", "put-64"))[0],
    r(("raftkv", "put-64"))[2] / e(("etcd", "put-64"))[2],
    r(("raftkv", "put-1"))[1] / e(("etcd", "put-1"))[1],
    r(("raftkv", "get-64"))[0] / e(("etcd", "get-64"))[0],
    r(("raftkv", "put-64"))[3] / e(("etcd", "put-64"))[3]))
print("floor / etcd (the most any one-call-per-operation server gets here): put-64 throughput %.2fx, put-1 p50 %.2fx, get-64 throughput %.2fx" % (
    r(("floor", "put-64"))[0] / e(("etcd", "put-64"))[0],
    r(("floor", "put-1"))[1] / e(("etcd", "put-1"))[1],
    r(("floor", "get-64"))[0] / e(("etcd", "get-64"))[0]))
PY
echo "raw results: $out"
