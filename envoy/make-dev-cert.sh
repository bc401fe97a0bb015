#!/usr/bin/env bash
# Makes a self-signed TLS certificate for local development: the Envoy edge
# (compose.yaml mounts envoy/certs at /etc/envoy/certs) or Cyphr's own TLS mode
# (TLS_CERT_FILE, TLS_KEY_FILE). Never use it in production.
#
#   envoy/make-dev-cert.sh [output folder] [extra DNS name ...]
#
# Writes server.crt and server.key (ECDSA P-256, valid 825 days) into the output folder
# (default: envoy/certs). Subject alternative names: localhost, 127.0.0.1, ::1 and any
# extra names given. Clients trust it by using server.crt as their CA certificate.
set -euo pipefail

out="${1:-$(cd "$(dirname "$0")" && pwd)/certs}"
shift || true

san="DNS:localhost,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1"
for name in "$@"; do san="$san,DNS:$name"; done

mkdir -p "$out"
openssl req -x509 -new -nodes -sha256 -days 825 \
  -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
  -subj "/CN=localhost/O=Cyphr development" \
  -addext "subjectAltName=$san" \
  -addext "extendedKeyUsage=serverAuth" \
  -keyout "$out/server.key" -out "$out/server.crt"
# Envoy's container runs as its own user (uid 101), which must be able to read the key.
# Acceptable for a throwaway development key; see envoy/README.md for production.
chmod 0644 "$out/server.key" "$out/server.crt"
echo "wrote $out/server.crt and $out/server.key (SAN $san)"
