# Sourced by scripts/consumer-test.sh and scripts/aot-smoke.sh: the servers they start, found and
# stopped the same way. The caller defines fail() and the array pids.

# TERM, up to 5 s to go, then KILL.
stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

stop_all() {
  local pid
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
}

# wait_for_port LOG PID NAME TRIES INTERVAL: waits (TRIES x INTERVAL s at most) for the server's
# "http://127.0.0.1:N" log line and sets PORT to N; every server here binds port 0.
wait_for_port() {
  local log=$1 pid=$2 name=$3 tries=$4 interval=$5
  PORT=""
  for _ in $(seq "$tries"); do
    PORT=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$log" | head -1 | sed 's/.*://' || true)
    [ -n "$PORT" ] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "$name exited before it listened"; }
    sleep "$interval"
  done
  cat "$log" >&2
  fail "$name did not listen within $(awk -v t="$tries" -v i="$interval" 'BEGIN { print t * i }') s"
}
