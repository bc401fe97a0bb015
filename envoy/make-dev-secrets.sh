#!/usr/bin/env bash
# Makes the secrets the Cyphr instances of compose.yaml share, for local development:
#
#   envoy/make-dev-secrets.sh [secrets folder] [env file]
#
# - <secrets folder>/jwt-ed25519.pem: the Ed25519 JWT signing key (PKCS#8 PEM), read by
#   every instance through JWT_PRIVATE_KEY_FILE, so a token one instance issued is valid on
#   the other;
# - <secrets folder>/fingerprint-secret: the HMAC key for device fingerprints (64 base64
#   characters), read through FINGERPRINT_SECRET_FILE, so both instances recognise the same
#   devices;
# - POSTGRES_PASSWORD=<random> appended to the env file, which compose reads for the
#   database password.
#
# Defaults: envoy/secrets and envoy/.env. Existing secrets are kept: a new signing key
# would end every session, a new fingerprint secret would stop every device from logging in.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/secrets}"
env_file="${2:-$here/.env}"

mkdir -p "$out"
if [ ! -e "$out/jwt-ed25519.pem" ]; then
  openssl genpkey -algorithm ed25519 -out "$out/jwt-ed25519.pem"
  echo "wrote $out/jwt-ed25519.pem"
fi
if [ ! -e "$out/fingerprint-secret" ]; then
  openssl rand -base64 48 > "$out/fingerprint-secret"
  echo "wrote $out/fingerprint-secret"
fi
# The Cyphr containers run as the image's "node" user, which must be able to read these.
chmod 0644 "$out/jwt-ed25519.pem" "$out/fingerprint-secret"

if ! grep -qs '^POSTGRES_PASSWORD=' "$env_file"; then
  echo "POSTGRES_PASSWORD=$(openssl rand -hex 24)" >> "$env_file"
  echo "wrote POSTGRES_PASSWORD to $env_file"
fi
