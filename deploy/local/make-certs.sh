#!/usr/bin/env bash
# Makes a cluster CA and certificates for a local raftkv cluster with openssl:
#
#   deploy/local/make-certs.sh DIR [N]
#
#   DIR/ca.crt, ca.key               the cluster CA (keep ca.key offline in production)
#   DIR/member-I.crt, member-I.key   member I (1..N, default 5): serves peers and
#                                    clients and presents it to other members
#   DIR/client.crt, client.key       a client certificate for kvctl
#
# Member certificates name CN=member-I and the subject alternative names
# DNS:member-I, DNS:localhost, IP:127.0.0.1 and whatever RAFTKV_CERT_SANS adds
# (e.g. "DNS:raftkv-0.raftkv,IP:10.0.0.5"): a member is dialled by address,
# and gRPC checks the address against these names. Keys are ECDSA P-256;
# certificates are valid for RAFTKV_CERT_DAYS (default 365) days.
#
# Files that exist are kept (the script is safe to repeat); delete DIR to
# start over. Use them as:
#
#   raftkvd ... --peer-cert-file DIR/member-1.crt --peer-key-file DIR/member-1.key \
#               --peer-trusted-ca-file DIR/ca.crt \
#               --cert-file DIR/member-1.crt --key-file DIR/member-1.key \
#               --trusted-ca-file DIR/ca.crt --client-cert-auth
#   kvctl --cacert DIR/ca.crt --cert DIR/client.crt --key DIR/client.key ...
set -euo pipefail
if [[ $# -lt 1 || $# -gt 2 || ! ${2:-5} =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: make-certs.sh DIR [N]" >&2
  exit 2
fi
dir=$1
nodes=${2:-5}
days=${RAFTKV_CERT_DAYS:-365}
command -v openssl >/dev/null || { echo "make-certs.sh: openssl is not installed (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
umask 077  # keys are readable by their owner alone

new_key() { # file
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

if [[ ! -f $dir/ca.crt ]]; then
  new_key "$dir/ca.key"
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days "$days" -subj "/CN=raftkv cluster CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.crt"
  echo "made the CA: $dir/ca.crt"
fi

sign() { # name, extensions
  local name=$1 extensions=$2
  [[ -f $dir/$name.crt ]] && return 0
  new_key "$dir/$name.key"
  openssl req -new -key "$dir/$name.key" -subj "/CN=$name" -out "$dir/$name.csr"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -sha256 -days "$days" -extfile <(printf '%s\n' "$extensions") -out "$dir/$name.crt" 2>/dev/null
  rm -f "$dir/$name.csr"
  echo "made $dir/$name.crt"
}

for ((id = 1; id <= nodes; id++)); do
  sans="DNS:member-$id,DNS:localhost,IP:127.0.0.1${RAFTKV_CERT_SANS:+,$RAFTKV_CERT_SANS}"
  sign "member-$id" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$sans"
done
sign client "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
