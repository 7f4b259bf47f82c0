#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs every suite:
# unit tests, integration + interop tests (Node ws, python websockets, headless Chromium, redis-server),
# the conformance suite (Autobahn-numbered) against the Duplex server and client, the consumer test
# (the packages from a local feed in fresh apps, the tool installed from it) and the Native AOT
# smoke checks of `duplex serve`, then a short coverage-guided fuzzing run of every parser (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
started=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - started )) s)"; }

step "installing test peers"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
need_apt=()
/usr/bin/python3 -c 'import websockets' 2>/dev/null || need_apt+=(python3-websockets)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/redis-server ] || need_apt+=(redis-server)
command -v npm >/dev/null || need_apt+=(nodejs npm)
command -v curl >/dev/null || need_apt+=(curl)
# Native AOT (scripts/aot-smoke.sh): clang links the native binary, zlib1g-dev for its zlib.
command -v clang >/dev/null || need_apt+=(clang)
[ -e /usr/include/zlib.h ] || need_apt+=(zlib1g-dev)
# Fuzzing (scripts/fuzz.sh): AFL++ runs the SharpFuzz-instrumented targets.
command -v afl-fuzz >/dev/null || need_apt+=(afl++)
if [ ${#need_apt[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
(cd tests/peers && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/peers-socketio && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/peers-socketio-redis && npm ci --no-audit --no-fund --loglevel=error)
# The browser build of socket.io-client that `serve` embeds for /chat (the Cli build would also fetch it).
(cd src/Duplex.Cli/chat-client && npm ci --no-audit --no-fund --loglevel=error)

# The sharpfuzz instrumenter (dotnet-tools.json), for scripts/fuzz.sh.
dotnet tool restore

step "building (Release, warnings are errors)"
dotnet restore Duplex.slnx
dotnet build Duplex.slnx -c Release --no-restore

step "unit tests"
dotnet test tests/Duplex.Tests -c Release --no-build

step "integration and interop tests"
dotnet test tests/Duplex.Integration.Tests -c Release --no-build

step "Socket.IO (npm socket.io-client against the Duplex server)"
dotnet test tests/Duplex.SocketIO.Tests -c Release --no-build

# Library users keep Kestrel's transport unless they opt in; duplex serve and WebSocketServer run on
# Duplex's own. Both suites again on it (TestServer and SocketIOTestServer read this variable).
step "integration and Socket.IO tests again, on Duplex's socket transport"
DUPLEX_TEST_TRANSPORT=duplex dotnet test tests/Duplex.Integration.Tests -c Release --no-build
DUPLEX_TEST_TRANSPORT=duplex dotnet test tests/Duplex.SocketIO.Tests -c Release --no-build

step "Socket.IO across servers (Duplex and Node socket.io nodes, redis-emitter, on a real redis-server)"
dotnet test tests/Duplex.SocketIO.Redis.Tests -c Release --no-build

step "conformance (Autobahn case numbers): ws as control, then the Duplex server and client"
DUPLEX_CLI="dotnet $ROOT/src/Duplex.Cli/bin/Release/net10.0/Duplex.Cli.dll" \
CONFORMANCE_OUT="$ROOT/artifacts/conformance" \
  tests/conformance/run.sh

step "consumer test: packages from a local feed"
scripts/consumer-test.sh

step "Native AOT duplex serve: smoke checks"
scripts/aot-smoke.sh

# Every target for FUZZ_SECONDS (25 s each, two at a time: about 2 minutes for the seven, under 5 with
# the builds); a crash, a hang or an undocumented exception fails the run.
step "fuzzing: every parser under AFL++ for a bounded time"
FUZZ_SECONDS=${FUZZ_SECONDS:-25} FUZZ_JOBS=${FUZZ_JOBS:-2} scripts/fuzz.sh

step "all suites passed"
