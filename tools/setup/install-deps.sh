#!/usr/bin/env bash
# Installs the Debian 12 packages raftkv needs to build and test.
# Idempotent: packages already present are not reinstalled, and apt's index is
# refreshed only when something is missing. Works as root or through sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  librocksdb-dev libcli11-dev libc-ares-dev libspdlog-dev
  # TLS: OpenSSL checks certificate files; openssl makes a cluster's
  # certificates (deploy/local/make-certs.sh, the TLS tests).
  libssl-dev openssl
  # The metrics endpoint's HTTP server; promtool (in Debian's prometheus
  # package, which also brings a Prometheus server) validates its output.
  libcpp-httplib-dev prometheus
  # Fuzzing (tools/dev/fuzz.sh): clang with libFuzzer's runtime.
  clang libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format git
  # Tests: a real DNS server (dnsmasq-base: the binary, no system service
  # taking port 53) and the deploy/ recipes' offline checks.
  dnsmasq-base yamllint systemd
  # The fault harness (tests/fault): network namespaces, veth pairs and a
  # bridge (iproute2), partitions as packet filters (nftables).
  iproute2 nftables
  # Power failures (tests/powerloss): a FUSE file system of the tests' own.
  libfuse3-dev fuse3
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

# Only now is root needed: a non-root user with everything installed needs
# no sudo at all.
if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
