#!/usr/bin/env bash
# Native AOT smoke checks: publishes `duplex` (src/Duplex.Cli) with PublishAot=true to artifacts/aot —
# warnings are errors there as everywhere, and any trim/AOT warning the publish prints fails this —
# then runs the native `Duplex.Cli serve` on a loopback port and checks it with
#   - the consumer console app (tests/consumer/console: WebSocketClient on /echo, SocketIOClient on
#     /socket.io/ over websocket and over polling with upgrade), as scripts/consumer-test.sh left it
#     in artifacts/consumer/client, or built here against the source when that is missing;
#   - the real npm clients (tests/consumer/npm-clients-smoke.js): node `ws` on /echo and /broadcast,
#     `socket.io-client` on /socket.io/ over websocket and over polling with upgrade;
#   - the native `Duplex.Cli connect`: a stdin line sent to /echo comes back printed, exit 0;
#   - the pages, and that SIGTERM stops it (closing connections with 1001) in time.
# Needs clang and zlib1g-dev (scripts/test.sh installs them) and `npm ci` in tests/peers and
# tests/peers-socketio. Loopback only, every wait bounded. Exit status 0 when everything passed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
started=$(date +%s)
step() { echo; echo "== aot: $* ($(( $(date +%s) - started )) s)"; }
fail() { echo "AOT smoke FAILED: $*" >&2; exit 1; }

OUT=$ROOT/artifacts/aot
BIN=$OUT/Duplex.Cli
CLIENT=${CONSUMER_CLIENT:-$ROOT/artifacts/consumer/client/ConsumerClient.dll}

WORK=$(mktemp -d /tmp/duplex-aot.XXXXXX)
# shellcheck source=scripts/smoke-lib.sh
source "$ROOT/scripts/smoke-lib.sh"
pids=()
cleanup() {
  local status=$?
  stop_all
  rm -rf "$WORK"
  [ $status -eq 0 ] || echo "AOT smoke FAILED (exit $status) after $(( $(date +%s) - started )) s" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in clang node; do command -v "$tool" >/dev/null || fail "$tool is missing (scripts/test.sh installs it)"; done
for dir in tests/peers/node_modules/ws tests/peers-socketio/node_modules/socket.io-client; do
  [ -d "$dir" ] || fail "$dir is missing: run npm ci in $(dirname "$(dirname "$dir")")"
done

step "dotnet publish src/Duplex.Cli -c Release -r linux-x64 -p:PublishAot=true -o artifacts/aot"
rm -rf "$OUT"
log=$WORK/publish.log
if ! dotnet publish src/Duplex.Cli -c Release -r linux-x64 -p:PublishAot=true -o "$OUT" -nologo >"$log" 2>&1; then
  grep -E 'error|warning' "$log" | sort -u >&2 || tail -40 "$log" >&2
  fail "the AOT publish failed"
fi
# Trim and AOT analysis warnings (ILC's own are not always errors): a native build has none.
warnings=$(grep -E '(: warning [A-Z]+[0-9]+|analysis warning)' "$log" | sort -u || true)
if [ -n "$warnings" ]; then
  echo "$warnings" >&2
  fail "the AOT publish printed $(echo "$warnings" | wc -l) warning(s)"
fi
[ -x "$BIN" ] || fail "no native $BIN"
file_type=$(head -c 4 "$BIN" | od -An -c | tr -d ' ')
[ "$file_type" = '177ELF' ] || fail "$BIN is not an ELF executable"
echo "publish: no warnings; $BIN is $(stat -c %s "$BIN") bytes"

if [ ! -f "$CLIENT" ]; then
  step "building the consumer console app against the source (no $CLIENT from scripts/consumer-test.sh)"
  (
    cd "$WORK"
    dotnet new console -n ConsumerClient -o ConsumerClient --no-restore >/dev/null
    cp "$ROOT/tests/consumer/console/Program.cs" ConsumerClient/Program.cs
    dotnet add ConsumerClient reference "$ROOT/src/Duplex.SocketIO.Client/Duplex.SocketIO.Client.csproj" >/dev/null
    dotnet build ConsumerClient -c Release -nologo -v:q -clp:NoSummary
  )
  CLIENT=$WORK/ConsumerClient/bin/Release/net10.0/ConsumerClient.dll
fi

step "native duplex serve"
serve_log=$WORK/serve.log
t0=$(date +%s%N)
timeout 300 "$BIN" serve --host 127.0.0.1 --port 0 >"$serve_log" 2>&1 &
pid=$!
pids+=("$pid")
wait_for_port "$serve_log" "$pid" "the native server" 1000 0.01
listened_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
server_pid=$(cat /proc/"$pid"/task/*/children 2>/dev/null | awk '{ print $1 }')   # under `timeout`
[ -n "$server_pid" ] || fail "cannot find the server process under timeout ($pid)"
echo "pid $server_pid listening on http://127.0.0.1:$PORT, $listened_ms ms after start"
base=http://127.0.0.1:$PORT
for page in / /chat; do
  status=$(timeout 5 curl -s -o /dev/null -w '%{http_code}' "$base$page" || true)
  [ "$status" = 200 ] || fail "GET $page gave '$status'"
  echo "ok   GET $page -> 200"
done

step "the consumer console app (Duplex.SocketIO.Client) against it"
timeout 60 dotnet "$CLIENT" "$base" || fail "the consumer console app exited with $?"

step "the npm clients (ws, socket.io-client) against it"
timeout 60 node tests/consumer/npm-clients-smoke.js "$base" || fail "the npm clients' checks exited with $?"

step "native duplex connect against it"
line="hi from duplex connect $$"
got=$(echo "$line" | timeout 20 "$BIN" connect "ws://127.0.0.1:$PORT/echo" 2>"$WORK/connect.err") \
  || { cat "$WORK/connect.err" >&2; fail "duplex connect exited with $?"; }
[ "$got" = "< $line" ] || { cat "$WORK/connect.err" >&2; fail "duplex connect printed '$got', not '< $line'"; }
echo "ok   echo '$line' | Duplex.Cli connect ws://127.0.0.1:$PORT/echo printed '$got', exit 0 ($(tr '\n' ' ' < "$WORK/connect.err"))"

rss=$(awk '/^VmRSS/ { print $2 " " $3 }' "/proc/$server_pid/status")
echo "native server RSS after the checks: $rss"
step "SIGTERM"
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "the native server did not stop within 10 s of SIGTERM"
wait "$pid" 2>/dev/null || true
grep -q 'shutting down' "$serve_log" || { cat "$serve_log" >&2; fail "the native server did not log its shutdown"; }
if grep -E ' (fail|crit): ' "$serve_log" >&2; then fail "the native server logged errors"; fi
echo "ok   stopped, log clean"

step "AOT smoke checks passed"
