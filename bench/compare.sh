#!/usr/bin/env bash
# Compares Duplex's server with ASP.NET Core's System.Net.WebSockets (bench/AspNetCoreEcho) and
# Node's ws (bench/node), one server at a time on loopback, with the same `duplex bench` cases.
# Per case: a fresh server process, each case repeated (3×), medians reported, server CPU per
# message read from /proc/<pid>/stat over the measured window, ratios against ASP.NET Core
# measured in this same run. Prints one Markdown table; raw JSON goes to bench/results/.
#
#   bench/compare.sh            quick sizes (about 10 minutes on 2 cores)
#   bench/compare.sh --full     the sizes of issue 5 (10,000 receivers, 10,000 idle connections, 10 s windows)
#   options: --compression (add permessage-deflate cases), --repeats N, --servers "duplex aspnet node",
#            --cases "echo-32-1x1 ..." (a subset, by name)
#   servers: duplex (`duplex serve`, event-loop I/O), aspnet (bench/AspNetCoreEcho, ASP.NET Core's
#            defaults), floor (bench/FloorEcho: raw sockets, minimal framing, the machine's limit),
#            node (ws); duplex-full (`duplex serve --no-fast-path`: upgrades through ASP.NET Core's
#            pipeline, the full path); and, to see what scheduling alone does: duplex-pool (`serve --io
#            pool`), duplex-kestrel (`duplex serve --transport kestrel`: Kestrel's socket transport
#            instead of Duplex's), aspnet-inline (AspNetCoreEcho with the same inline I/O as `duplex serve`)
#            and aspnet-wks (AspNetCoreEcho on workstation GC, as `duplex serve` runs)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

profile=quick
repeats=3
servers="duplex aspnet floor node"
compression=0
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) profile=quick ;;
    --full) profile=full ;;
    --compression) compression=1 ;;
    --repeats) repeats=$2; shift ;;
    --servers) servers=$2; shift ;;
    --cases) only=$2; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 1 ;;
  esac
  shift
done

if [ "$profile" = full ]; then
  dur=10; warm=2; bcast_big=10000; idle_n=10000
else
  dur=3; warm=1; bcast_big=1000; idle_n=2000
fi

# Case table: name | mode | path | bench options. Every run is bounded by --duration.
cases=(
  "echo-32-1x1|echo|/echo|--size 32 --connections 1 --depth 1"
  "echo-32-100x1|echo|/echo|--size 32 --connections 100 --depth 1"
  "echo-32-100x16|echo|/echo|--size 32 --connections 100 --depth 16"
  "echo-16k-10x4|echo|/echo|--size 16k --connections 10 --depth 4"
  "echo-1m-4x1|echo|/echo|--size 1m --connections 4 --depth 1"
  "bcast-32-100-rate1000|broadcast|/broadcast|--size 32 --receivers 100 --rate 1000"
  "bcast-32-100-flat|broadcast|/broadcast|--size 32 --receivers 100 --depth 8"
  "bcast-32-${bcast_big}-flat|broadcast|/broadcast|--size 32 --receivers ${bcast_big} --depth 4"
  "idle-${idle_n}|idle|/echo|--connections ${idle_n}"
  "handshake-4|handshake|/echo|--loops 4"
  # The same with the server closing the TCP connection first (RFC 6455 §7.1.1), as a client that
  # waits for the server's FIN after the close handshake sees it.
  "handshake-4-server-closes|handshake|/echo|--loops 4 --close server"
)
if [ "$compression" = 1 ]; then
  cases+=(
    "deflate-echo-16k-10x4|echo|/echo|--size 16k --text --connections 10 --depth 4 --compression"
    "deflate-echo-1k-100x1|echo|/echo|--size 1k --text --connections 100 --depth 1 --compression"
    "deflate-bcast-1k-100-flat|broadcast|/broadcast|--size 1k --text --receivers 100 --depth 8 --compression"
  )
fi

# 10,000 connections need that many descriptors on both ends.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

echo "== building (Release)" >&2
dotnet build -c Release -v q -nologo src/Duplex.Cli/Duplex.Cli.csproj >&2
dotnet build -c Release -v q -nologo bench/AspNetCoreEcho/AspNetCoreEcho.csproj >&2
dotnet build -c Release -v q -nologo bench/FloorEcho/FloorEcho.csproj >&2
if [[ " $servers " == *" node "* ]]; then
  echo "== installing ws (npm)" >&2
  (cd bench/node && npm install --no-audit --no-fund --silent >&2)
fi
cli="$root/src/Duplex.Cli/bin/Release/net10.0/Duplex.Cli.dll"
aspnet="$root/bench/AspNetCoreEcho/bin/Release/net10.0/AspNetCoreEcho.dll"
floor="$root/bench/FloorEcho/bin/Release/net10.0/FloorEcho.dll"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$root/bench/results/$stamp"
mkdir -p "$out"
port=18600

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

start_server() { # server, port, compression(0/1)
  local flag=""
  case "$1" in
    duplex) [ "$3" = 1 ] && flag="--compression"
            dotnet "$cli" serve --host 127.0.0.1 --port "$2" $flag >"$out/$1-server.log" 2>&1 & ;;
    duplex-full) [ "$3" = 1 ] && flag="--compression"
            dotnet "$cli" serve --host 127.0.0.1 --port "$2" --no-fast-path $flag >"$out/$1-server.log" 2>&1 & ;;
    floor)  [ "$3" = 1 ] && { echo "   floor has no permessage-deflate" >&2; return 1; }
            dotnet "$floor" --port "$2" >"$out/$1-server.log" 2>&1 & ;;
    duplex-kestrel) [ "$3" = 1 ] && flag="--compression"
            dotnet "$cli" serve --host 127.0.0.1 --port "$2" --transport kestrel $flag >"$out/$1-server.log" 2>&1 & ;;
    duplex-pool) [ "$3" = 1 ] && flag="--compression"
            dotnet "$cli" serve --host 127.0.0.1 --port "$2" --io pool $flag >"$out/$1-server.log" 2>&1 & ;;
    aspnet) [ "$3" = 1 ] && flag="--compression"
            dotnet "$aspnet" --port "$2" $flag >"$out/$1-server.log" 2>&1 & ;;
    aspnet-wks) [ "$3" = 1 ] && flag="--compression"
            DOTNET_gcServer=0 dotnet "$aspnet" --port "$2" $flag >"$out/$1-server.log" 2>&1 & ;;
    aspnet-inline) [ "$3" = 1 ] && flag="--compression"
            dotnet "$aspnet" --port "$2" --inline $flag >"$out/$1-server.log" 2>&1 & ;;
    node)   [ "$3" = 1 ] && flag="--compression"
            node bench/node/server.js --port "$2" $flag >"$out/$1-server.log" 2>&1 & ;;
    *) echo "unknown server $1" >&2; exit 1 ;;
  esac
  server_pid=$!
  wait_listening "$1" "$2" "$server_pid" "$out/$1-server.log"
}

selected=$(count_selected "$only" "${cases[@]}")
total=$(( selected * $(echo $servers | wc -w) ))
n=0
for c in "${cases[@]}"; do
  IFS='|' read -r name mode path opts <<<"$c"
  if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then continue; fi
  deflate=0; [[ "$opts" == *--compression* ]] && deflate=1
  echo "$name|$mode ws://127.0.0.1:PORT$path $opts --duration $dur --warmup $warm" >>"$out/cases.txt"
  for s in $servers; do
    n=$((n + 1))
    port=$((port + 1))
    echo "== [$n/$total] $name on $s" >&2
    if ! start_server "$s" "$port" "$deflate"; then stop_server; continue; fi
    for r in $(seq 1 "$repeats"); do
      # Memory per idle connection is measured on a fresh server each time: a server that held the
      # previous repeat's connections reuses that memory, and the next figure comes out near zero.
      if [ "$mode" = idle ] && [ "$r" -gt 1 ]; then
        stop_server; sleep 0.5; port=$((port + 1))
        if ! start_server "$s" "$port" "$deflate"; then stop_server; break; fi
      fi
      file="$out/$name.$s.$r.json"
      # A hard bound on top of the bench's own: duration, warm-up, connecting and draining.
      # shellcheck disable=SC2086
      timeout 180 dotnet "$cli" bench "$mode" "ws://127.0.0.1:$port$path" $opts \
        --duration "$dur" --warmup "$warm" --pid "$server_pid" --json --no-progress >"$file" 2>"$out/$name.$s.$r.err" \
        || echo "   run $r exited with $? (see $file / .err)" >&2
      kill -0 "$server_pid" 2>/dev/null || { echo "   $s died" >&2; break; }
    done
    stop_server
    sleep 0.5
  done
done

echo "== results in $out" >&2
node bench/compare-report.js "$out" "$profile" "$repeats" | tee "$out/table.md"
