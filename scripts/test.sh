#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

echo "== installing test peers"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
need_apt=()
/usr/bin/python3 -c 'import websockets' 2>/dev/null || need_apt+=(python3-websockets)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
(cd tests/peers && npm ci --no-audit --no-fund --loglevel=error)

echo "== building"
dotnet restore Duplex.slnx
dotnet build Duplex.slnx -c Release --no-restore

echo "== unit tests"
dotnet test tests/Duplex.Tests -c Release --no-build
echo "== integration tests"
dotnet test tests/Duplex.Integration.Tests -c Release --no-build
