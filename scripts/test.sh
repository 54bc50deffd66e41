#!/usr/bin/env bash
# Everything the tests need on a fresh Debian/Ubuntu machine, then the tests.
# Debian packages: mosquitto + mosquitto-clients (interop tests use mosquitto_pub/_sub and a real
# Mosquitto), openssl (makes a throw-away TLS certificate), chromium (the web UI tests drive it
# through playwright-core).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v mosquitto >/dev/null || need+=(mosquitto)
command -v mosquitto_sub >/dev/null || need+=(mosquitto-clients)
command -v openssl >/dev/null || need+=(openssl)
command -v chromium >/dev/null || [ -n "${CHROMIUM_PATH:-}" ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing Debian packages: ${need[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
npm install --no-audit --no-fund
npm test
