#!/usr/bin/env bash
# Runs the conformance harness against the control peers (Node's ws) and, when DUPLEX_CLI is set,
# against Duplex:
#   ws-server      fuzzing client  -> ws echo server            (tests/conformance/peers/echo-server.js)
#   ws-client      fuzzing server  -> ws echo client            (tests/conformance/peers/echo-client.js)
#   duplex-server  fuzzing client  -> $DUPLEX_CLI serve --port P   (endpoint /echo)
#   duplex-client  fuzzing server  -> $DUPLEX_CLI connect --echo {url}
# Environment:
#   DUPLEX_CLI              command prefix for the duplex CLI, e.g. "dotnet /path/to/duplex.dll"
#   CONFORMANCE_OUT         report root (default artifacts/conformance)
#   CONFORMANCE_CASES       case selection (default 1-7,9,10)
#   CONFORMANCE_FULL_SIZE   1 = chapter 9 with Autobahn's sizes
#   CONFORMANCE_RUN_TIMEOUT upper bound in seconds for each run (default 900)
# Exits non-zero if any run has a FAILED case (or could not run). Everything listens on 127.0.0.1 only.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
OUT=${CONFORMANCE_OUT:-artifacts/conformance}
CASES=${CONFORMANCE_CASES:-1-7,9,10}
RUN_TIMEOUT=${CONFORMANCE_RUN_TIMEOUT:-900}
EXTRA=()
[ "${CONFORMANCE_FULL_SIZE:-0}" = "1" ] && EXTRA+=(--full-size)
PROJECT=tests/conformance/Duplex.Conformance
HARNESS="$ROOT/$PROJECT/bin/Release/net10.0/Duplex.Conformance.dll"
PEERS=tests/conformance/peers

STARTED_PIDS=()
stop_started() {
  for pid in "${STARTED_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || continue 2; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
}
trap stop_started EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# Waits until 127.0.0.1:$1 accepts connections; fails if process $2 dies or 30 s pass.
wait_for_port() {
  local port=$1 pid=$2
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "process $pid exited before listening on $port" >&2; return 1; }
    sleep 0.1
  done
  echo "nothing listening on 127.0.0.1:$port after 30 s" >&2
  return 1
}

harness() {
  timeout --kill-after=10 "$RUN_TIMEOUT" dotnet "$HARNESS" "$@" --cases "$CASES" "${EXTRA[@]}"
}

STATUS=0
record() { # name exit-code
  if [ "$2" -ne 0 ]; then
    echo "== $1: exit code $2 (FAILED cases or the run did not complete)"
    STATUS=1
  else
    echo "== $1: no FAILED case"
  fi
}

echo "== building the harness"
if [ ! -d tests/peers/node_modules/ws ]; then
  (cd tests/peers && npm ci --no-audit --no-fund --loglevel=error) || exit 1
fi
dotnet build "$PROJECT" -c Release -nologo -v quiet || exit 1
mkdir -p "$OUT"

echo "== ws-server: fuzzing client against the ws echo server"
PORT=$(free_port)
node "$PEERS/echo-server.js" "$PORT" > "$OUT/ws-server.peer.log" 2>&1 &
STARTED_PIDS+=($!)
if wait_for_port "$PORT" "${STARTED_PIDS[-1]}"; then
  harness client --url "ws://127.0.0.1:$PORT/echo" --out "$OUT/ws-server" --agent "ws $(node -p "require('./tests/peers/node_modules/ws/package.json').version")"
  record ws-server $?
else
  record ws-server 1
fi
stop_started

echo "== ws-client: fuzzing server against the ws echo client"
PORT=$(free_port)
harness server --port "$PORT" --client-cmd "node $PEERS/echo-client.js {url}" --out "$OUT/ws-client" \
  --agent "ws $(node -p "require('./tests/peers/node_modules/ws/package.json').version")"
record ws-client $?

if [ -n "${DUPLEX_CLI:-}" ]; then
  echo "== duplex-server: fuzzing client against '$DUPLEX_CLI serve'"
  PORT=$(free_port)
  # DUPLEX_CLI is a command prefix ("dotnet /path/duplex.dll"); word splitting is intended.
  # shellcheck disable=SC2086
  $DUPLEX_CLI serve --port "$PORT" > "$OUT/duplex-server.peer.log" 2>&1 &
  STARTED_PIDS+=($!)
  if wait_for_port "$PORT" "${STARTED_PIDS[-1]}"; then
    harness client --url "ws://127.0.0.1:$PORT/echo" --out "$OUT/duplex-server" --agent duplex
    record duplex-server $?
  else
    record duplex-server 1
  fi
  stop_started

  echo "== duplex-client: fuzzing server against '$DUPLEX_CLI connect --echo'"
  PORT=$(free_port)
  # A fresh dotnet process per case JIT-compiles its receive path on the case's first frame; give
  # it more time before giving up on it (the verdicts themselves are unchanged).
  harness server --port "$PORT" --client-cmd "$DUPLEX_CLI connect --echo {url}" --out "$OUT/duplex-client" --agent duplex --patience 4
  record duplex-client $?
else
  echo "== DUPLEX_CLI not set: skipping the Duplex runs"
fi

echo "== reports in $OUT/{ws-server,ws-client${DUPLEX_CLI:+,duplex-server,duplex-client}}"
exit $STATUS
