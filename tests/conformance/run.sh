#!/usr/bin/env bash
# Runs the conformance harness against the control peers (Node's ws) and, when DUPLEX_CLI is set,
# against Duplex:
#   ws-server      fuzzing client  -> ws echo server            (tests/conformance/peers/echo-server.js)
#   ws-client      fuzzing server  -> ws echo client            (tests/conformance/peers/echo-client.js)
#   duplex-server  fuzzing client  -> $DUPLEX_CLI serve --port P   (endpoint /echo)
#   duplex-client  fuzzing server  -> $DUPLEX_CLI connect --echo {url}
# and, for chapters 12/13 (permessage-deflate, RFC 7692), the same four with compression enabled:
#   ws-server-deflate      fuzzing client  -> ws echo server with perMessageDeflate (peers/echo-server-deflate.js)
#   ws-client-deflate      fuzzing server  -> ws echo client with perMessageDeflate (peers/echo-client-deflate.js)
#   duplex-server-deflate  fuzzing client  -> $DUPLEX_CLI serve --port P --compression
#   duplex-client-deflate  fuzzing server  -> $DUPLEX_CLI connect --echo --compression {url}
# Environment:
#   DUPLEX_CLI              command prefix for the duplex CLI, e.g. "dotnet /path/to/duplex.dll"
#   CONFORMANCE_OUT         report root (default artifacts/conformance)
#   CONFORMANCE_CASES       case selection for the plain runs (default 1-7,9,10; empty skips them)
#   CONFORMANCE_DEFLATE_CASES  case selection for the deflate runs (default 12,13; empty skips them)
#   CONFORMANCE_DEFLATE_DUPLEX 1 (default) = also run the deflate cases against Duplex (needs
#                           serve/connect --compression); 0 = only the ws control runs for 12/13
#   CONFORMANCE_TESTDATA    Autobahn's payload files (default: tests/conformance/testdata)
#   CONFORMANCE_FULL_SIZE   1 = chapters 9, 12, 13 with Autobahn's sizes and message counts
#   CONFORMANCE_RUN_TIMEOUT upper bound in seconds for each run (default 900; 3600 for deflate runs at full size)
# Exits non-zero if any run has a FAILED case (or could not run). Everything listens on 127.0.0.1 only.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
OUT=${CONFORMANCE_OUT:-artifacts/conformance}
CASES=${CONFORMANCE_CASES-1-7,9,10}
DEFLATE_CASES=${CONFORMANCE_DEFLATE_CASES-12,13}
DEFLATE_DUPLEX=${CONFORMANCE_DEFLATE_DUPLEX:-1}
RUN_TIMEOUT=${CONFORMANCE_RUN_TIMEOUT:-900}
DEFLATE_RUN_TIMEOUT=${CONFORMANCE_RUN_TIMEOUT:-900}
EXTRA=()
if [ "${CONFORMANCE_FULL_SIZE:-0}" = "1" ]; then
  EXTRA+=(--full-size)
  # Autobahn's 1000 messages per case make chapters 12/13 about 20 minutes against ws.
  DEFLATE_RUN_TIMEOUT=${CONFORMANCE_RUN_TIMEOUT:-3600}
fi
# The payload files travel with the repository (tests/conformance/testdata) so a clean clone runs
# chapters 12/13 wherever it is checked out.
EXTRA+=(--testdata "${CONFORMANCE_TESTDATA:-$ROOT/tests/conformance/testdata}")
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

# harness CASES ARGS...: one run of the harness over the selected cases, bounded by $LIMIT seconds.
LIMIT=$RUN_TIMEOUT
harness() {
  local cases=$1
  shift
  timeout --kill-after=10 "$LIMIT" dotnet "$HARNESS" "$@" --cases "$cases" "${EXTRA[@]}"
}

# server_run NAME CASES PEER-COMMAND...: starts the server under test with {port} in its arguments
# replaced by a free port, runs the fuzzing client against it, and stops it.
server_run() {
  local name=$1 cases=$2 port
  shift 2
  port=$(free_port)
  "${@//\{port\}/$port}" > "$OUT/$name.peer.log" 2>&1 &
  STARTED_PIDS+=($!)
  if wait_for_port "$port" "${STARTED_PIDS[-1]}"; then
    harness "$cases" client --url "ws://127.0.0.1:$port/echo" --out "$OUT/$name" --agent "$AGENT"
    record "$name" $?
  else
    record "$name" 1
  fi
  stop_started
}

# client_run NAME CASES CLIENT-COMMAND [HARNESS-ARGS...]: runs the fuzzing server for a client command.
client_run() {
  local name=$1 cases=$2 command=$3
  shift 3
  harness "$cases" server --port "$(free_port)" --client-cmd "$command" --out "$OUT/$name" --agent "$AGENT" "$@"
  record "$name" $?
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

WS_AGENT="ws $(node -p "require('./tests/peers/node_modules/ws/package.json').version")"
RUNS=()
if [ -n "$CASES" ]; then
  AGENT=$WS_AGENT
  echo "== ws-server: fuzzing client against the ws echo server ($CASES)"
  server_run ws-server "$CASES" node "$PEERS/echo-server.js" "{port}"
  echo "== ws-client: fuzzing server against the ws echo client ($CASES)"
  client_run ws-client "$CASES" "node $PEERS/echo-client.js {url}"
  RUNS+=(ws-server ws-client)
fi
if [ -n "$DEFLATE_CASES" ]; then
  AGENT="$WS_AGENT perMessageDeflate"
  LIMIT=$DEFLATE_RUN_TIMEOUT
  echo "== ws-server-deflate: fuzzing client against the ws echo server with permessage-deflate ($DEFLATE_CASES)"
  server_run ws-server-deflate "$DEFLATE_CASES" node "$PEERS/echo-server-deflate.js" "{port}"
  echo "== ws-client-deflate: fuzzing server against the ws echo client with permessage-deflate ($DEFLATE_CASES)"
  client_run ws-client-deflate "$DEFLATE_CASES" "node $PEERS/echo-client-deflate.js {url}"
  RUNS+=(ws-server-deflate ws-client-deflate)
fi

if [ -n "${DUPLEX_CLI:-}" ]; then
  AGENT=duplex
  # DUPLEX_CLI is a command prefix ("dotnet /path/duplex.dll"); word splitting is intended.
  # shellcheck disable=SC2206
  DUPLEX=($DUPLEX_CLI)
  if [ -n "$CASES" ]; then
    LIMIT=$RUN_TIMEOUT
    echo "== duplex-server: fuzzing client against '$DUPLEX_CLI serve' ($CASES)"
    server_run duplex-server "$CASES" "${DUPLEX[@]}" serve --port "{port}"
    echo "== duplex-client: fuzzing server against '$DUPLEX_CLI connect --echo' ($CASES)"
    # A fresh dotnet process per case JIT-compiles its receive path on the case's first frame; give
    # it more time before giving up on it (the verdicts themselves are unchanged).
    client_run duplex-client "$CASES" "$DUPLEX_CLI connect --echo {url}" --patience 4
    RUNS+=(duplex-server duplex-client)
  fi
  if [ -n "$DEFLATE_CASES" ] && [ "$DEFLATE_DUPLEX" = "1" ]; then
    LIMIT=$DEFLATE_RUN_TIMEOUT
    echo "== duplex-server-deflate: fuzzing client against '$DUPLEX_CLI serve --compression' ($DEFLATE_CASES)"
    server_run duplex-server-deflate "$DEFLATE_CASES" "${DUPLEX[@]}" serve --port "{port}" --compression
    echo "== duplex-client-deflate: fuzzing server against '$DUPLEX_CLI connect --echo --compression' ($DEFLATE_CASES)"
    client_run duplex-client-deflate "$DEFLATE_CASES" "$DUPLEX_CLI connect --echo --compression {url}" --patience 4
    RUNS+=(duplex-server-deflate duplex-client-deflate)
  elif [ -n "$DEFLATE_CASES" ]; then
    echo "== CONFORMANCE_DEFLATE_DUPLEX=$DEFLATE_DUPLEX: skipping the Duplex deflate runs"
  fi
else
  echo "== DUPLEX_CLI not set: skipping the Duplex runs"
fi

echo "== reports in $OUT/: ${RUNS[*]}"
exit $STATUS
