# Shared by bench/compare.sh and bench/socketio/compare.sh (sourced, not run).

# wait_listening NAME PORT PID LOG: waits (bounded, 10 s) until 127.0.0.1:PORT accepts connections;
# fails, printing LOG, if process PID exits first.
wait_listening() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || { echo "$1 exited at start:" >&2; cat "$4" >&2; return 1; }
    sleep 0.1
  done
  echo "$1 did not listen on $2 within 10 s" >&2
  return 1
}

# count_selected ONLY CASE...: how many of the case lines ("name|…") ONLY selects (all when empty).
count_selected() {
  local only=$1 count=0 c name
  shift
  for c in "$@"; do
    name=${c%%|*}
    if [ -z "$only" ] || [[ " $only " == *" $name "* ]]; then count=$((count + 1)); fi
  done
  echo "$count"
}
