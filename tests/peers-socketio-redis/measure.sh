#!/usr/bin/env bash
# Cross-node Socket.IO delivery: a redis-server, two Duplex nodes (examples/SocketIORedisNode, Release
# build), one npm socket.io-client on node B in room "r"; node A emits COUNT events to "r" as fast as
# it can. Prints the delivery rate and the latency percentiles seen by the client (same machine,
# monotonic clocks). Usage: tests/peers-socketio-redis/measure.sh [COUNT] [PER_SECOND (0 = flood)]
# ADAPTER=streams measures the Redis streams adapter instead of the classic pub/sub one.
set -euo pipefail
cd "$(dirname "$0")"
COUNT=${1:-20000}
RATE=${2:-0}
ADAPTER=${ADAPTER:-classic}
DLL=../../examples/SocketIORedisNode/bin/Release/net10.0/SocketIORedisNode.dll
OUT=$(mktemp -d)
PORT=$((20000 + RANDOM % 20000))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$OUT"; }
trap cleanup EXIT
redis-server --bind 127.0.0.1 --port "$PORT" --save "" --appendonly no > "$OUT/redis.log" & pids+=($!)
sleep 0.5
dotnet "$DLL" --redis "127.0.0.1:$PORT" --name A --adapter "$ADAPTER" > "$OUT/a.log" 2>&1 & pids+=($!)
dotnet "$DLL" --redis "127.0.0.1:$PORT" --name B --adapter "$ADAPTER" > "$OUT/b.log" 2>&1 & pids+=($!)
for n in a b; do for _ in $(seq 100); do grep -q listening "$OUT/$n.log" && break; sleep 0.2; done; done
A=$(awk '/listening/{print $2; exit}' "$OUT/a.log"); B=$(awk '/listening/{print $2; exit}' "$OUT/b.log")
# client.js leaves when its stdin ends: hold it open with a fifo whose writer is ours to stop.
mkfifo "$OUT/stdin"
sleep 600 > "$OUT/stdin" & pids+=($!)
node client.js "$B" bench r < "$OUT/stdin" > "$OUT/client.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do grep -q ready "$OUT/client.log" && break; sleep 0.2; done
curl -s "$A/ctl/bench?room=r&count=200" > /dev/null   # warm-up
sleep 1
start=$(date +%s%N)
curl -s "$A/ctl/bench?room=r&count=$COUNT&perSecond=$RATE" > "$OUT/sent.json"
for _ in $(seq 600); do [ "$(grep -c '"step":"tick"' "$OUT/client.log")" -ge $((COUNT + 200)) ] && break; sleep 0.1; done
end=$(date +%s%N)
node -e '
const fs = require("fs");
const [log, count, ns, sent] = process.argv.slice(1);
const ticks = fs.readFileSync(log, "utf8").split("\n").filter(l => l.includes("\"tick\"")).map(l => JSON.parse(l)).slice(200);
const lat = ticks.map(t => t.latencyUs).sort((a, b) => a - b);
const p = (q) => (lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] / 1000).toFixed(2);
const seconds = Number(ns) / 1e9;
console.log(`${process.env.ADAPTER || "classic"}: received ${ticks.length}/${count} across nodes in ${seconds.toFixed(2)} s: ${(ticks.length / seconds).toFixed(0)} msg/s; ` +
  `latency p50 ${p(0.5)} ms, p90 ${p(0.9)} ms, p99 ${p(0.99)} ms, max ${p(1)} ms; sender: ${sent}`);
' "$OUT/client.log" "$COUNT" "$((end - start))" "$(cat "$OUT/sent.json")"
echo "counters A: $(curl -s "$A/ctl/metrics")"
echo "counters B: $(curl -s "$B/ctl/metrics")"
