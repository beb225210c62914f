#!/usr/bin/env bash
# A local raftkv cluster on 127.0.0.1: five raftkvd processes, clients on
# ports 9001-9005 and peers on 7001-7005 by default.
#
#   deploy/local/cluster.sh start|stop|status|logs [N]
#
# Environment:
#   RAFTKV_CLUSTER_DIR   data, logs and PID files   (default /tmp/raftkv-cluster)
#   RAFTKV_BIN           where raftkvd and kvctl are (default build/daemon, build/tools)
#   RAFTKV_NODES         how many members           (default 5)
#   RAFTKV_CLIENT_PORT   first client port          (default 9001)
#   RAFTKV_PEER_PORT     first peer port            (default 7001)
#   RAFTKV_DAEMON_ARGS   more raftkvd flags for every member, e.g.
#                        "--snapshot-entries 20000"  (default none)
#   RAFTKV_METRICS_PORT  first Prometheus metrics port; member I serves on
#                        this + I - 1                (default: no metrics)
#   RAFTKV_TLS=1         TLS everywhere: certificates are made in
#                        $RAFTKV_CLUSTER_DIR/certs (make-certs.sh), peers use
#                        mutual TLS and clients must present a certificate
#                        (the commands kvctl needs are printed)
#
# start is idempotent (running members are left alone); stop sends SIGTERM
# (a leader hands over first) and SIGKILLs what is still there after 10 s.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=${RAFTKV_CLUSTER_DIR:-/tmp/raftkv-cluster}
nodes=${RAFTKV_NODES:-5}
client_port=${RAFTKV_CLIENT_PORT:-9001}
peer_port=${RAFTKV_PEER_PORT:-7001}
raftkvd=${RAFTKV_BIN:+$RAFTKV_BIN/raftkvd}
raftkvd=${raftkvd:-$repo/build/daemon/raftkvd}
kvctl=${RAFTKV_BIN:+$RAFTKV_BIN/kvctl}
kvctl=${kvctl:-$repo/build/tools/kvctl}

peers=""
clients=""
endpoints=""
for ((id = 1; id <= nodes; id++)); do
  peers+="${peers:+,}$id=127.0.0.1:$((peer_port + id - 1))"
  clients+="${clients:+,}$id=127.0.0.1:$((client_port + id - 1))"
  endpoints+="${endpoints:+,}127.0.0.1:$((client_port + id - 1))"
done

certs=$dir/certs
tls_flags() { # id: raftkvd's TLS flags for member id
  [[ ${RAFTKV_TLS:-0} == 1 ]] || return 0
  echo "--peer-cert-file $certs/member-$1.crt --peer-key-file $certs/member-$1.key" \
    "--peer-trusted-ca-file $certs/ca.crt --cert-file $certs/member-$1.crt --key-file $certs/member-$1.key" \
    "--trusted-ca-file $certs/ca.crt --client-cert-auth"
}
metrics_flags() { # id: raftkvd's metrics flag for member id, if asked for
  [[ -n ${RAFTKV_METRICS_PORT:-} ]] || return 0
  echo "--listen-metrics 127.0.0.1:$((RAFTKV_METRICS_PORT + $1 - 1))"
}
kvctl_tls=()
if [[ ${RAFTKV_TLS:-0} == 1 ]]; then
  kvctl_tls=(--cacert "$certs/ca.crt" --cert "$certs/client.crt" --key "$certs/client.key")
fi

running() { # id
  local pid_file="$dir/node-$1.pid"
  [[ -f $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

start() {
  [[ -x $raftkvd ]] || { echo "cluster.sh: $raftkvd is not built (run tools/dev/build.sh)" >&2; exit 1; }
  mkdir -p "$dir"
  if [[ ${RAFTKV_TLS:-0} == 1 ]]; then "$repo/deploy/local/make-certs.sh" "$certs" "$nodes" >/dev/null; fi
  for ((id = 1; id <= nodes; id++)); do
    if running "$id"; then
      echo "member $id is already running (pid $(cat "$dir/node-$id.pid"))"
      continue
    fi
    "$raftkvd" --id "$id" --data-dir "$dir/node-$id" \
      --listen-peer "127.0.0.1:$((peer_port + id - 1))" --listen-client "127.0.0.1:$((client_port + id - 1))" \
      --peers "$peers" --clients "$clients" $(tls_flags "$id") $(metrics_flags "$id") ${RAFTKV_DAEMON_ARGS:-} \
      >>"$dir/node-$id.log" 2>&1 &
    echo $! >"$dir/node-$id.pid"
    echo "member $id started (pid $!), clients on 127.0.0.1:$((client_port + id - 1))"
  done
  # Wait until the members agree on a leader and answer -- or one of them
  # exits (a bad flag, a refused --restore, a damaged data directory):
  # then say so at once, with the end of its log.
  for _ in $(seq 1 100); do
    for ((id = 1; id <= nodes; id++)); do
      if ! running "$id"; then
        echo "cluster.sh: member $id exited; the end of $dir/node-$id.log:" >&2
        tail -n 15 "$dir/node-$id.log" | sed 's/^/  /' >&2
        exit 1
      fi
    done
    if "$kvctl" --endpoints "$endpoints" "${kvctl_tls[@]}" --command-timeout 1 endpoint health >/dev/null 2>&1; then
      echo "the cluster is healthy; data and logs in $dir"
      echo "export KVCTL_ENDPOINTS=$endpoints"
      if [[ ${RAFTKV_TLS:-0} == 1 ]]; then
        echo "export KVCTL_CACERT=$certs/ca.crt KVCTL_CERT=$certs/client.crt KVCTL_KEY=$certs/client.key"
      fi
      return 0
    fi
    sleep 0.2
  done
  echo "cluster.sh: the cluster did not become healthy; see $dir/node-*.log" >&2
  exit 1
}

stop() {
  for ((id = 1; id <= nodes; id++)); do
    running "$id" && kill -TERM "$(cat "$dir/node-$id.pid")"
  done
  for ((id = 1; id <= nodes; id++)); do
    for _ in $(seq 1 100); do running "$id" || break; sleep 0.1; done
    if running "$id"; then kill -KILL "$(cat "$dir/node-$id.pid")"; fi
    rm -f "$dir/node-$id.pid"
  done
  echo "stopped; data and logs remain in $dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) "$kvctl" --endpoints "$endpoints" "${kvctl_tls[@]}" endpoint status ;;
  logs) tail -n "${2:-20}" "$dir"/node-*.log ;;
  *) echo "usage: cluster.sh start|stop|status|logs [N]" >&2; exit 2 ;;
esac
