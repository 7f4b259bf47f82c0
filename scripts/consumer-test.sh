#!/usr/bin/env bash
# The consumer test: Duplex as a new user gets it. Packs every package under src/ into a local feed
# (artifacts/packages) with a version of this run's own, makes fresh `dotnet new web` and `dotnet new
# console` apps outside the repository (so none of its Directory.*.props apply), adds the packages by
# version and copies tests/consumer/*/Program.cs over theirs, then:
#   1. the web app (Duplex.Server + Duplex.SocketIO) serves /echo and the Socket.IO chat;
#   2. the console app (Duplex.SocketIO.Client only, which brings Duplex; no ASP.NET Core) does a
#      WebSocketClient and a SocketIOClient round trip against it;
#   3. the tool (Duplex.Cli, `duplex`) is installed from the feed and the same console app runs
#      against its `duplex serve`.
# Loopback only, every wait bounded; leaves the built console app in artifacts/consumer/client for
# scripts/aot-smoke.sh. Exit status 0 when everything passed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
started=$(date +%s)
step() { echo; echo "== consumer: $* ($(( $(date +%s) - started )) s)"; }
fail() { echo "consumer test FAILED: $*" >&2; exit 1; }

FEED=$ROOT/artifacts/packages
CLIENT_OUT=$ROOT/artifacts/consumer/client
PACKAGES=(Duplex Duplex.Server Duplex.Server.Redis Duplex.SocketIO Duplex.SocketIO.Client Duplex.SocketIO.Redis Duplex.Cli)
# Unique to this run, so no NuGet cache can hold a package of the same version (seconds since 1970
# stay below 2^31 until 2038, a plain SemVer numeric identifier).
SUFFIX="consumer.$(date +%s)"

WORK=$(mktemp -d /tmp/duplex-consumer.XXXXXX)
# shellcheck source=scripts/smoke-lib.sh
source "$ROOT/scripts/smoke-lib.sh"
pids=()
cleanup() {
  local status=$?
  stop_all
  rm -rf "$WORK"
  # This run's packages, unpacked into the machine's NuGet cache by the restores, are of no use again.
  if [ -n "${VERSION:-}" ] && [ -n "${GLOBAL_PACKAGES:-}" ]; then
    for id in "${PACKAGES[@]}"; do
      rm -rf "$GLOBAL_PACKAGES/${id,,}/${VERSION,,}"
      rmdir "$GLOBAL_PACKAGES/${id,,}" 2>/dev/null || true
    done
  fi
  [ $status -eq 0 ] || echo "consumer test FAILED (exit $status) after $(( $(date +%s) - started )) s" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts "$@" in the background with its output in $1.log ($1 is a name), waits (bounded) for its
# "listening" log line and sets PORT to the loopback port it bound (every server here gets port 0).
start_server() {
  local name=$1; shift
  local log=$WORK/$name.log
  timeout 300 "$@" >"$log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  SERVER_PID=$pid
  wait_for_port "$log" "$pid" "$name" 300 0.1
  # It answers HTTP (bounded): GET / must give a status line.
  local answered=""
  for _ in $(seq 50); do
    if status=$(timeout 5 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/") && [ "$status" != "000" ]; then
      answered=$status; break
    fi
    sleep 0.1
  done
  [ -n "$answered" ] || { cat "$log" >&2; fail "$name on 127.0.0.1:$PORT does not answer HTTP"; }
  echo "$name: pid $pid listening on http://127.0.0.1:$PORT (GET / -> $answered)"
}

stop_server() {
  local pid=$1 name=$2
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    fail "$name did not stop within 10 s of SIGTERM"
  fi
  wait "$pid" 2>/dev/null || true
  echo "$name: stopped"
}

run_client() {
  echo "\$ ConsumerClient $*"
  timeout 60 dotnet "$WORK/ConsumerClient/bin/Release/net10.0/ConsumerClient.dll" "$@" \
    || fail "the console app against $1 exited with $?"
}

step "packing ${PACKAGES[*]} (suffix $SUFFIX) into $FEED"
VERSION=$(dotnet msbuild src/Duplex/Duplex.csproj -getProperty:Version -p:VersionSuffix="$SUFFIX")
[[ "$VERSION" == *-"$SUFFIX" ]] || fail "unexpected package version '$VERSION'"
GLOBAL_PACKAGES=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: *//')
mkdir -p "$FEED"
# One build of everything (the tool references every library), then each package from it.
dotnet build src/Duplex.Cli -c Release -p:VersionSuffix="$SUFFIX" -nologo -v:q -clp:NoSummary
for id in "${PACKAGES[@]}"; do
  dotnet pack "src/$id" -c Release --no-build -p:VersionSuffix="$SUFFIX" -o "$FEED" -nologo -v:q
  for ext in nupkg snupkg; do
    [ -f "$FEED/$id.$VERSION.$ext" ] || fail "pack made no $id.$VERSION.$ext"
  done
done
ls -l "$FEED"/*."$VERSION".*nupkg | awk '{ printf "  %9d  %s\n", $5, $NF }'

step "fresh apps in $WORK (outside the repository)"
for f in Directory.Build.props Directory.Build.targets Directory.Packages.props; do
  d=$WORK; while [ "$d" != "/" ]; do
    [ -e "$d/$f" ] && fail "$d/$f would apply to the fresh apps"
    d=$(dirname "$d")
  done
done
# The local feed first, then every source this machine already uses (no address of our own).
sources=$(cd "$WORK" && dotnet nuget list source --format short | awk '$1 ~ /^E/ { print $2 }')
[ -n "$sources" ] || fail "no enabled NuGet source is configured on this machine"
{
  echo '<?xml version="1.0" encoding="utf-8"?>'
  echo '<configuration>'
  echo '  <packageSources>'
  echo '    <clear />'
  echo "    <add key=\"duplex-local\" value=\"$FEED\" />"
  n=0; for s in $sources; do n=$((n + 1)); echo "    <add key=\"machine-$n\" value=\"$s\" />"; done
  echo '  </packageSources>'
  echo '</configuration>'
} > "$WORK/nuget.config"
echo "nuget.config sources: duplex-local=$FEED $(echo $sources)"
(
  cd "$WORK"
  dotnet new web -n ConsumerWeb -o ConsumerWeb --no-restore >/dev/null
  dotnet new console -n ConsumerClient -o ConsumerClient --no-restore >/dev/null
  cp "$ROOT/tests/consumer/web/Program.cs" ConsumerWeb/Program.cs
  cp "$ROOT/tests/consumer/console/Program.cs" ConsumerClient/Program.cs
  for id in Duplex.Server Duplex.SocketIO; do
    dotnet add ConsumerWeb package "$id" --version "$VERSION" >/dev/null || fail "dotnet add package $id to the web app"
  done
  dotnet add ConsumerClient package Duplex.SocketIO.Client --version "$VERSION" >/dev/null \
    || fail "dotnet add package Duplex.SocketIO.Client to the console app"
  echo "web app packages:"; grep -o '<PackageReference[^>]*>' ConsumerWeb/ConsumerWeb.csproj | sed 's/^/  /'
  echo "console app packages:"; grep -o '<PackageReference[^>]*>' ConsumerClient/ConsumerClient.csproj | sed 's/^/  /'
  [ "$(grep -c '<PackageReference' ConsumerClient/ConsumerClient.csproj)" -eq 1 ] || fail "the console app should reference one package"
)

step "building both apps"
dotnet build "$WORK/ConsumerWeb" -c Release -nologo -v:q -clp:NoSummary
dotnet build "$WORK/ConsumerClient" -c Release -nologo -v:q -clp:NoSummary
# The console app runs on .NET alone: its runtimeconfig names Microsoft.NETCore.App and nothing else.
rc=$WORK/ConsumerClient/bin/Release/net10.0/ConsumerClient.runtimeconfig.json
frameworks=$(grep -oE '"name": *"[^"]+"' "$rc" | sed -E 's/.*"([^"]+)"$/\1/' | sort -u | tr '\n' ' ')
[ "$frameworks" = "Microsoft.NETCore.App " ] || { cat "$rc" >&2; fail "the console app needs frameworks '$frameworks', not only Microsoft.NETCore.App"; }
echo "console app frameworks: $frameworks(no ASP.NET Core)"
# Which packages it resolved, transitively: Duplex and its few dependencies, no ASP.NET Core package.
resolved=$(cd "$WORK" && dotnet list ConsumerClient package --include-transitive | grep -E '^ +> ' | awk '{ print $2 "/" $NF }' | tr '\n' ' ')
echo "console app resolves: $resolved"
[[ " $resolved" == *" Duplex/$VERSION "* ]] || fail "the console app did not get Duplex $VERSION through Duplex.SocketIO.Client"
[[ "$resolved" != *Microsoft.AspNetCore* ]] || fail "the console app resolved an ASP.NET Core package"
rm -rf "$CLIENT_OUT"; mkdir -p "$CLIENT_OUT"
cp -r "$WORK/ConsumerClient/bin/Release/net10.0/." "$CLIENT_OUT/"

step "the web app (Duplex.Server + Duplex.SocketIO) against the console app (Duplex.SocketIO.Client)"
start_server web dotnet "$WORK/ConsumerWeb/bin/Release/net10.0/ConsumerWeb.dll" --urls http://127.0.0.1:0
web_pid=$SERVER_PID
run_client "http://127.0.0.1:$PORT" --ack
stop_server "$web_pid" "web app"

step "the tool: dotnet tool install Duplex.Cli $VERSION from the feed"
(cd "$WORK" && dotnet tool install --tool-path "$WORK/tools" --add-source "$FEED" Duplex.Cli --version "$VERSION")
[ -x "$WORK/tools/duplex" ] || fail "the tool installed no 'duplex' command"
"$WORK/tools/duplex" --help | head -1
start_server "duplex-serve" "$WORK/tools/duplex" serve --host 127.0.0.1 --port 0
tool_pid=$SERVER_PID
run_client "http://127.0.0.1:$PORT"
chat=$(timeout 5 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/chat")
[ "$chat" = 200 ] || fail "duplex serve: GET /chat gave $chat"
script=$(timeout 5 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/socket.io/socket.io.js")
if [ -e src/Duplex.Cli/chat-client/node_modules/socket.io-client/dist/socket.io.min.js ]; then
  [ "$script" = 200 ] || fail "duplex serve: GET /socket.io/socket.io.js gave $script though the pack had the browser client"
fi
echo "duplex serve: GET /chat -> $chat, /socket.io/socket.io.js -> $script"
stop_server "$tool_pid" "duplex serve"

step "consumer test passed: packages $VERSION, web app, console app and tool"
