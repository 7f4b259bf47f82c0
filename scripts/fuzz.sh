#!/usr/bin/env bash
# Coverage-guided fuzzing (docs/fuzzing.md): builds tests/fuzz/Duplex.Fuzz, instruments copies of the Duplex
# assemblies with SharpFuzz, runs afl-fuzz on every target for a bounded time from its seed corpus
# (tests/fuzz/corpus/<target>), prints each target's figures, and fails when any target found a crash or a hang,
# printing the input as hex and, replayed through the uninstrumented build, the exception.
#
#   FUZZ_SECONDS=30      seconds per target (afl-fuzz -V)
#   FUZZ_JOBS=1          targets fuzzed at once (each afl-fuzz takes a core)
#   FUZZ_TIMEOUT_MS=5000 one input taking longer is a hang (afl-fuzz -t)
#   FUZZ_TARGETS="a b"   a subset of the targets (default: all, as `Duplex.Fuzz list` names them)
#   FUZZ_OUT=artifacts/fuzz  where the build and the afl-fuzz output go (not committed)
#
# Needs afl-fuzz (Debian: afl++) and the sharpfuzz tool (`dotnet tool restore`, dotnet-tools.json).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_PER_TARGET=${FUZZ_SECONDS:-30}
JOBS=${FUZZ_JOBS:-1}
TIMEOUT_MS=${FUZZ_TIMEOUT_MS:-5000}
OUT=${FUZZ_OUT:-$ROOT/artifacts/fuzz}
PROJECT=tests/fuzz/Duplex.Fuzz
PLAIN="$ROOT/$PROJECT/bin/Release/net10.0"
LIBS=(Duplex Duplex.Server Duplex.SocketIO Duplex.SocketIO.Client Duplex.SocketIO.Redis)

command -v afl-fuzz >/dev/null || { echo "afl-fuzz not found: apt-get install afl++" >&2; exit 2; }
dotnet tool restore >/dev/null

# The normal build stays uninstrumented (the regression tests and crash replays use it); afl-fuzz runs a copy
# whose Duplex assemblies SharpFuzz has instrumented in place.
dotnet build "$PROJECT" -c Release -v q -nologo >/dev/null
rm -rf "$OUT/bin" "$OUT/out"
mkdir -p "$OUT/bin" "$OUT/out"
cp -r "$PLAIN/." "$OUT/bin/"
for lib in "${LIBS[@]}"; do
  dotnet sharpfuzz "$OUT/bin/$lib.dll" >/dev/null
done

read -r -a TARGETS <<< "${FUZZ_TARGETS:-$("$PLAIN/Duplex.Fuzz" list | tr '\n' ' ')}"

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1
export AFL_NO_AFFINITY=1 AFL_FORKSRV_INIT_TMOUT=60000 AFL_SHUFFLE_QUEUE=0

fuzz_one() {
  local target=$1
  local dict=()
  # Tokens of the target's format (tests/fuzz/dict/<target>.dict), which AFL splices into inputs.
  [ -f "tests/fuzz/dict/$target.dict" ] && dict=(-x "tests/fuzz/dict/$target.dict")
  local attempt rc=0
  # A start that fails before fuzzing (seen once on a loaded machine: "No instrumentation detected" in
  # the dry run, which passes on a rerun) is tried once more; crashes and hangs are never retried.
  for attempt in 1 2; do
    rm -rf "$OUT/out/$target"
    rc=0
    afl-fuzz -i "tests/fuzz/corpus/$target" -o "$OUT/out/$target" "${dict[@]}" -m none -t "$TIMEOUT_MS" -V "$SECONDS_PER_TARGET" \
      -- "$OUT/bin/Duplex.Fuzz" "$target" >>"$OUT/out/$target.log" 2>&1 || rc=$?
    [ -f "$OUT/out/$target/default/fuzzer_stats" ] && return "$rc"
    echo "== $target: afl-fuzz did not start (exit $rc, attempt $attempt)" >>"$OUT/out/$target.log"
  done
  return "$rc"
}

echo "fuzzing ${#TARGETS[@]} targets, ${SECONDS_PER_TARGET} s each, $JOBS at a time (output in $OUT/out)"
# In batches of $JOBS: every target runs for the same time, so a batch ends together.
declare -A status_of=()
for ((i = 0; i < ${#TARGETS[@]}; i += JOBS)); do
  batch=("${TARGETS[@]:i:JOBS}")
  declare -A pid_of=()
  for target in "${batch[@]}"; do
    fuzz_one "$target" &
    pid_of[$target]=$!
  done
  for target in "${batch[@]}"; do
    if wait "${pid_of[$target]}"; then status_of[$target]=0; else status_of[$target]=$?; fi
  done
done

field() { sed -n "s/^$2 *: *//p" "$1" | head -1; }
failed=0
printf '\n%-20s %12s %10s %10s %12s %8s %8s %6s\n' target execs_done execs/s bitmap_cvg edges_found corpus crashes hangs
for target in "${TARGETS[@]}"; do
  dir="$OUT/out/$target/default"
  stats="$dir/fuzzer_stats"
  if [ ! -f "$stats" ]; then
    echo "$target: afl-fuzz did not run (exit ${status_of[$target]:-?}); its log:"
    tail -n 30 "$OUT/out/$target.log"
    failed=1
    continue
  fi
  crashes=$(find "$dir/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
  hangs=$(find "$dir/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
  printf '%-20s %12s %10s %10s %12s %8s %8s %6s\n' "$target" "$(field "$stats" execs_done)" "$(field "$stats" execs_per_sec)" \
    "$(field "$stats" bitmap_cvg)" "$(field "$stats" edges_found)" "$(field "$stats" corpus_count)" "$crashes" "$hangs"
  if [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ] || [ "${status_of[$target]:-0}" -ne 0 ]; then
    failed=1
  fi
done

# Each crash and hang: its bytes, then what the uninstrumented target does with them.
for target in "${TARGETS[@]}"; do
  dir="$OUT/out/$target/default"
  for kind in crashes hangs; do
    for input in $(find "$dir/$kind" -type f -name 'id:*' 2>/dev/null | sort | head -n 5); do
      echo
      echo "== $target: $kind/$(basename "$input") ($(wc -c <"$input") bytes)"
      od -A x -t x1z -v "$input" | head -n 40
      echo "-- replayed (timeout 20 s):"
      timeout 20 "$PLAIN/Duplex.Fuzz" "$target" "$input" 2>&1 | head -n 40 && echo "(no exception on replay)" || echo "(exit $?)"
    done
  done
done

if [ "$failed" -ne 0 ]; then
  echo
  echo "fuzzing FAILED: a crash, a hang or an afl-fuzz error above (add the input under tests/fuzz/regressions/<target>/ once fixed)"
  exit 1
fi
echo
echo "fuzzing passed: no crash, no hang"
