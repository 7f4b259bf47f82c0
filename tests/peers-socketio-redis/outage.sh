#!/usr/bin/env bash
# Redis stopped under steady cross-node traffic: a redis-server with an append-only file (so the stream
# outlives the restart), two Duplex nodes (examples/SocketIORedisNode, Release build) on ADAPTER (streams by
# default), one npm socket.io-client on node A in room "r"; node B emits COUNT events to "r" at RATE/s while
# Redis is stopped for OUTAGE seconds, starting 2 s in. Prints how many the client received and both nodes'
# counters. Usage: tests/peers-socketio-redis/outage.sh [COUNT] [RATE] [OUTAGE]; NODE_ARGS="--max-length 50000
# --max-buffered 50000" raises the streams adapter's bounds (10,000 each by default).
set -euo pipefail
cd "$(dirname "$0")"
COUNT=${1:-15000}
RATE=${2:-1000}
OUTAGE=${3:-10}
ADAPTER=${ADAPTER:-streams}
NODE_ARGS=${NODE_ARGS:-}
DLL=../../examples/SocketIORedisNode/bin/Release/net10.0/SocketIORedisNode.dll
OUT=$(mktemp -d)
PORT=$((20000 + RANDOM % 20000))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$OUT"; }
trap cleanup EXIT
redis() { redis-server --bind 127.0.0.1 --port "$PORT" --save "" --appendonly yes --appendfsync everysec --dir "$OUT" > "$OUT/redis.log" 2>&1 & REDIS=$!; pids+=($REDIS); sleep 0.5; }
redis
dotnet "$DLL" --redis "127.0.0.1:$PORT" --name A --adapter "$ADAPTER" $NODE_ARGS > "$OUT/a.log" 2>&1 & pids+=($!)
dotnet "$DLL" --redis "127.0.0.1:$PORT" --name B --adapter "$ADAPTER" $NODE_ARGS > "$OUT/b.log" 2>&1 & pids+=($!)
for n in a b; do for _ in $(seq 100); do grep -q listening "$OUT/$n.log" && break; sleep 0.2; done; done
A=$(awk '/listening/{print $2; exit}' "$OUT/a.log"); B=$(awk '/listening/{print $2; exit}' "$OUT/b.log")
mkfifo "$OUT/stdin"
sleep 600 > "$OUT/stdin" & pids+=($!)
node client.js "$A" outage r < "$OUT/stdin" > "$OUT/client.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do grep -q ready "$OUT/client.log" && break; sleep 0.2; done
curl -s "$B/ctl/bench?room=r&count=$COUNT&perSecond=$RATE" > "$OUT/sent.json" & SENDER=$!
sleep 2
redis-cli -p "$PORT" shutdown > /dev/null 2>&1 || true   # SHUTDOWN writes the AOF; Redis is gone for OUTAGE s
sleep "$OUTAGE"
redis
wait $SENDER
for _ in $(seq 300); do [ "$(grep -c '"step":"tick"' "$OUT/client.log")" -ge "$COUNT" ] && break; sleep 0.1; done
sleep 1
node -e '
const fs = require("fs");
const [log, count, sent] = process.argv.slice(1);
const n = fs.readFileSync(log, "utf8").split("\n").filter(l => l.includes("\"tick\"")).map(l => JSON.parse(l).n);
const distinct = new Set(n).size;
const inOrder = n.every((v, i) => i === 0 || v > n[i - 1]);
console.log(`${process.env.ADAPTER || "streams"}: sent ${count}, received ${n.length} (${distinct} distinct, ${inOrder ? "in order" : "out of order"}); sender: ${sent}`);
' "$OUT/client.log" "$COUNT" "$(cat "$OUT/sent.json")"
echo "counters A: $(curl -s "$A/ctl/metrics")"
echo "counters B: $(curl -s "$B/ctl/metrics")"
grep -h "not added again\|were added\|trimmed past\|dropping new ones" "$OUT/a.log" "$OUT/b.log" || true
