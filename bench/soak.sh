#!/usr/bin/env bash
# Soak (not in CI): `duplex serve` under SOAK_CONNECTIONS (5,000) WebSocket connections that are opened
# and closed continuously, each echoing one message a second, for SOAK_SECONDS (600). Every 10 s it
# samples the server's RSS, open descriptors and threads; at the end it prints the table, the client's
# totals and errors, and fails unless: the client saw zero errors, the server logged no error, its
# descriptors came back to the idle count, and RSS over the second half grew by less than 10%.
#
# usage: bench/soak.sh            SOAK_SECONDS=120 SOAK_CONNECTIONS=1000 bench/soak.sh   (a short one)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
. bench/lib.sh
SECONDS_TOTAL=${SOAK_SECONDS:-600}
CONNECTIONS=${SOAK_CONNECTIONS:-5000}
PORT=${SOAK_PORT:-8095}
OUT=${SOAK_OUT:-$ROOT/artifacts/soak}
mkdir -p "$OUT"

[ -d bench/node/node_modules/ws ] || (cd bench/node && npm ci --no-audit --no-fund --loglevel=error)
dotnet build src/Duplex.Cli -c Release -v q -nologo -p:DuplexChatClient=false >/dev/null
ulimit -n 20000 2>/dev/null || true

dotnet src/Duplex.Cli/bin/Release/net10.0/Duplex.Cli.dll serve --host 127.0.0.1 --port "$PORT" >"$OUT/server.log" 2>&1 &
server=$!
client=""
cleanup() { [ -n "$client" ] && kill "$client" 2>/dev/null; kill "$server" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_listening "duplex serve" "$PORT" "$server" "$OUT/server.log"

sample() { # t rss_kib fds threads
  local rss threads fds
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$server/status")
  threads=$(awk '/^Threads/ {print $2}' "/proc/$server/status")
  fds=$(ls "/proc/$server/fd" | wc -l)
  echo "$1,$rss,$fds,$threads"
}
idle_fds=$(sample 0 | cut -d, -f3)
echo "t_s,rss_kib,fds,threads,client_open,opened,echoed,errors" >"$OUT/samples.csv"

node bench/node/soak-client.js --url "ws://127.0.0.1:$PORT/echo" --connections "$CONNECTIONS" \
  --duration "$SECONDS_TOTAL" >"$OUT/client.log" 2>&1 &
client=$!
start=$(date +%s)
# Sampled until the client has printed its final line (duration + at most 15 s of closing), bounded.
while kill -0 "$client" 2>/dev/null && [ $(( $(date +%s) - start )) -le $((SECONDS_TOTAL + 60)) ]; do
  sleep 10
  t=$(( $(date +%s) - start ))
  last=$(grep -v '"final"' "$OUT/client.log" | tail -1 || true)
  stats=$(node -e 'const l=process.argv[1];try{const j=JSON.parse(l);const e=Object.values(j.errors).reduce((a,b)=>a+b,0);console.log([j.open,j.opened,j.echoed,e].join(","))}catch{console.log(",,,")}' "$last")
  echo "$(sample "$t"),$stats" | tee -a "$OUT/samples.csv"
done
wait "$client" || true
client=""
sleep 2
after_fds=$(sample end | cut -d, -f3)
final=$(grep '"final"' "$OUT/client.log" || echo '{}')
server_errors=$(grep -cE '^(fail|crit)' "$OUT/server.log" || true)

echo
echo "client totals: $final"
echo "server: idle fds $idle_fds, after the run $after_fds; error lines in its log: $server_errors"
node - "$OUT/samples.csv" "$final" "$idle_fds" "$after_fds" "$server_errors" <<'EOF'
const fs = require('fs');
const [csv, finalLine, idleFds, afterFds, serverErrors] = process.argv.slice(2);
const rows = fs.readFileSync(csv, 'utf8').trim().split('\n').slice(1).map(l => l.split(',').map(Number));
const half = rows.slice(Math.floor(rows.length / 2));
const rss = half.map(r => r[1]), fds = rows.map(r => r[2]), threads = rows.map(r => r[3]);
const mib = k => (k / 1024).toFixed(1);
const growth = rss.length > 1 ? (rss[rss.length - 1] - rss[0]) / rss[0] : 0;
console.log(`RSS MiB: min ${mib(Math.min(...rows.map(r => r[1])))}, max ${mib(Math.max(...rows.map(r => r[1])))}, second half ${mib(rss[0])} -> ${mib(rss[rss.length - 1])} (${(growth * 100).toFixed(1)}%)`);
console.log(`fds: min ${Math.min(...fds)}, max ${Math.max(...fds)}; threads: min ${Math.min(...threads)}, max ${Math.max(...threads)}`);
const final = JSON.parse(finalLine);
const clientErrors = Object.values(final.errors || { missing: 1 }).reduce((a, b) => a + b, 0);
const failures = [];
if (!final.final) failures.push('the client printed no totals');
if (clientErrors > 0) failures.push(`client errors: ${JSON.stringify(final.errors)}`);
if (Number(serverErrors) > 0) failures.push(`${serverErrors} error lines in the server log`);
if (Number(afterFds) > Number(idleFds) + 5) failures.push(`descriptors after the run ${afterFds} vs ${idleFds} idle`);
if (growth > 0.10) failures.push(`RSS grew ${(growth * 100).toFixed(1)}% over the second half`);
console.log(failures.length ? `NOT FLAT: ${failures.join('; ')}` : 'flat: zero errors, descriptors back to idle, RSS steady');
process.exit(failures.length ? 1 : 0);
EOF
