#!/usr/bin/env bash
# Compares Duplex.SocketIO with Node's socket.io 4.8.4 on the WebSocket transport, one server at a
# time on loopback, with the same loadgen.js cases (bench/README.md, "Socket.IO"). As bench/compare.sh:
# a fresh server process per case (per repeat for idle), each case repeated (3×), medians, server CPU
# per message from /proc/<pid>/stat over the measured window, ratios to Node measured in this same
# run. Prints one Markdown table; raw JSON goes to bench/results/socketio-<UTC stamp>/.
#
#   bench/socketio/compare.sh            quick: 3 s windows (about 10 minutes on 2 cores)
#   bench/socketio/compare.sh --full     10 s windows, 2 s warm-up
#   options: --repeats N, --servers "node duplex duplex-aspnet", --cases "echo-ack-100x16 ..." (by name)
#   servers: node (socket.io 4.8.4, NODE_ENV=production), duplex (DuplexSocketIOServer --mode duplex:
#            `duplex serve`'s configuration: Duplex's transport, event-loop I/O, workstation GC),
#            duplex-aspnet (--mode aspnet: ASP.NET Core's defaults: Kestrel's transport, thread pool, server GC)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

profile=quick
repeats=3
servers="node duplex duplex-aspnet"
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) profile=quick ;;
    --full) profile=full ;;
    --repeats) repeats=$2; shift ;;
    --servers) servers=$2; shift ;;
    --cases) only=$2; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 1 ;;
  esac
  shift
done

if [ "$profile" = full ]; then dur=10; warm=2; else dur=3; warm=1; fi

# Case table: name | loadgen arguments. Every run is bounded by --duration (and loadgen's own limit).
cases=(
  "echo-ack-1x1|echo --connections 1 --depth 1"
  "echo-ack-100x1|echo --connections 100 --depth 1"
  "echo-ack-100x16|echo --connections 100 --depth 16"
  "emit-100x1|echo --connections 100 --depth 1 --no-ack"
  "emit-100x16|echo --connections 100 --depth 16 --no-ack"
  "bcast-100-rate1000|broadcast --receivers 100 --rate 1000"
  "bcast-100-flat|broadcast --receivers 100 --depth 8"
  "bcast-1000-rate100|broadcast --receivers 1000 --rate 100"
  "bcast-1000-flat|broadcast --receivers 1000 --depth 4"
  "binary-16k-10x4|echo --connections 10 --depth 4 --size 16k --binary"
  "connect-4|connect --loops 4"
  "idle-10000|idle --connections 10000"
)

# 10,000 connections need that many descriptors on both ends.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

echo "== building DuplexSocketIOServer (Release)" >&2
dotnet build -c Release -v q -nologo bench/socketio/DuplexSocketIOServer/DuplexSocketIOServer.csproj >&2
if [[ " $servers " == *" node "* ]]; then
  echo "== installing socket.io (npm ci)" >&2
  (cd bench/socketio && npm ci --no-audit --no-fund --silent >&2)
fi
dll="$root/bench/socketio/DuplexSocketIOServer/bin/Release/net10.0/DuplexSocketIOServer.dll"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$root/bench/results/socketio-$stamp"
mkdir -p "$out"
port=18700

server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap stop_server EXIT

alloc_url=""
start_server() { # server, port
  alloc_url=""
  case "$1" in
    node)          NODE_ENV=production node bench/socketio/node-server.js --port "$2" >"$out/$1-server.log" 2>&1 & ;;
    duplex)        DOTNET_gcServer=0 dotnet "$dll" --mode duplex --port "$2" --debug >"$out/$1-server.log" 2>&1 &
                   alloc_url="http://127.0.0.1:$2/debug/gc" ;;
    duplex-aspnet) dotnet "$dll" --mode aspnet --port "$2" --debug >"$out/$1-server.log" 2>&1 &
                   alloc_url="http://127.0.0.1:$2/debug/gc" ;;
    *) echo "unknown server $1" >&2; exit 1 ;;
  esac
  server_pid=$!
  wait_listening "$1" "$2" "$server_pid" "$out/$1-server.log"
}

selected=$(count_selected "$only" "${cases[@]}")
total=$(( selected * $(echo $servers | wc -w) ))
n=0
for c in "${cases[@]}"; do
  IFS='|' read -r name opts <<<"$c"
  if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then continue; fi
  echo "$name|$opts --duration $dur --warmup $warm" >>"$out/cases.txt"
  for s in $servers; do
    n=$((n + 1))
    port=$((port + 1))
    echo "== [$n/$total] $name on $s" >&2
    if ! start_server "$s" "$port"; then stop_server; continue; fi
    for r in $(seq 1 "$repeats"); do
      # Idle memory is measured on a fresh server each time (a server that held the previous
      # repeat's connections reuses that memory).
      if [[ "$opts" == idle* ]] && [ "$r" -gt 1 ]; then
        stop_server; sleep 0.5; port=$((port + 1))
        if ! start_server "$s" "$port"; then stop_server; break; fi
      fi
      file="$out/$name.$s.$r.json"
      alloc=(); [ -n "$alloc_url" ] && alloc=(--alloc-url "$alloc_url")
      # shellcheck disable=SC2086
      timeout 180 node bench/socketio/loadgen.js $opts --port "$port" --duration "$dur" --warmup "$warm" \
        --pid "$server_pid" "${alloc[@]}" >"$file" 2>"$out/$name.$s.$r.err" \
        || echo "   run $r exited with $? (see $file / .err)" >&2
      kill -0 "$server_pid" 2>/dev/null || { echo "   $s died" >&2; break; }
    done
    stop_server
    sleep 0.5
  done
done

echo "== results in $out" >&2
node bench/socketio/report.js "$out" "$profile" "$repeats" | tee "$out/table.md"
