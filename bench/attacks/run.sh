#!/usr/bin/env bash
# Every attack at full size, each against a fresh server process (bench/attacks: `server`) on a free
# loopback port, while a normal client echoes; prints one JSON line per attack and a Markdown table
# (bench/README.md, "Attacks"). Not in CI. Usage: bench/attacks/run.sh [attack ...]
set -euo pipefail
cd "$(dirname "$0")"
dotnet build -c Release -v q -nologo > /dev/null
dll=bin/Release/net10.0/Attacks.dll
out=${ATTACK_RESULTS:-results.jsonl}
: > "$out"

run() {
  local attack=$1 path=$2; shift 2
  local log; log=$(mktemp)
  dotnet "$dll" server "$@" > "$log" 2>&1 < /dev/null &
  local holder=$!
  local port="" pid=""
  for _ in $(seq 1 100); do
    if read -r _ port _ pid < <(grep -m1 '^listening' "$log"); then break; fi
    sleep 0.1
  done
  if [[ -z "$pid" ]]; then echo "server did not start: $(cat "$log")" >&2; exit 1; fi
  if ! dotnet "$dll" run "$attack" --port "$port" --pid "$pid" --path "$path" >> "$out"; then
    echo "{\"attack\":\"$attack\",\"path\":\"$path\",\"outcome\":\"attack run failed\"}" >> "$out"
  fi
  if ! kill -0 "$pid" 2> /dev/null; then
    echo "{\"attack\":\"$attack\",\"path\":\"$path\",\"outcome\":\"SERVER DIED: $(tail -c 300 "$log" | tr '\n"' ' ')\"}" >> "$out"
  fi
  kill "$holder" 2> /dev/null || true
  wait "$holder" 2> /dev/null || true
  rm -f "$log"
  tail -n1 "$out"
}

attacks=("$@")
if [[ ${#attacks[@]} -eq 0 ]]; then
  attacks=(slowloris slowloris-late head-1mb headers-10000 protocol-huge fragments-1m fragments-1m-empty length-2^62 length-msb
           length-announced-64mib bomb-1gb ping-flood eio-no-connect eio-post-413 eio-double-get)
fi
for attack in "${attacks[@]}"; do
  case $attack in
    eio-no-connect) run "$attack" fast --connect-timeout 5 ;;
    eio-*) run "$attack" fast ;;
    bomb-1gb) run "$attack" fast --compression; run "$attack" full --compression ;;
    ping-flood) run "$attack" fast --keepalive 5; run "$attack" full --keepalive 5 ;;
    *) run "$attack" fast; run "$attack" full ;;
  esac
done
node report.js "$out"
