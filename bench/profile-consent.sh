#!/usr/bin/env bash
# Where the consent path's instructions go (issue 17): one `custodian serve` on SQLite under
# valgrind's callgrind, which counts instructions rather than time, so the figures repeat on a
# busy machine. For each of decide, a consent write (given), a consent write (refused) and a
# consent read: counting is switched on, wrk sends load for a few seconds, the counts are
# dumped, and the instructions per answer and the top functions (self cost) are printed.
#
#   bench/profile-consent.sh [BINARY]        # default target/release/custodian
#   SECONDS_EACH=6 TOP=15 bench/profile-consent.sh /tmp/old/custodian
#   KEEP=/tmp/cg bench/profile-consent.sh   # also keep the callgrind files, for callgrind_annotate
set -euo pipefail
# One client loads the consent path on purpose: its per-client limit is off.
export CUSTODIAN_CONSENT_LIMIT_PER_CLIENT=0
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/target/release/custodian}
SECONDS_EACH=${SECONDS_EACH:-5}
TOP=${TOP:-12}
for t in valgrind callgrind_control callgrind_annotate wrk; do
  command -v $t >/dev/null || { echo "$t is required (apt-get install -y valgrind wrk)" >&2; exit 1; }
done
dir=$(mktemp -d -t custodian-profile.XXXXXX)
tag=$RANDOM$RANDOM
( cd "$dir" && "$BIN" --database-url "sqlite://$dir/c.db" token create --role service ) >"$dir/token" 2>/dev/null
export BENCH_TOKEN; BENCH_TOKEN=$(tail -n1 "$dir/token")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
( cd "$dir" && exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/cg.%p" \
    "$BIN" --database-url "sqlite://$dir/c.db" serve --listen "127.0.0.1:$port" ) >"$dir/out" 2>"$dir/err" &
vpid=$!
trap 'kill $vpid 2>/dev/null; wait $vpid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 600); do grep -q 'listening on' "$dir/out" 2>/dev/null && break; sleep 0.2; done
grep -q 'listening on' "$dir/out" || { echo "custodian did not start under valgrind" >&2; cat "$dir/err" >&2; exit 1; }
base="http://127.0.0.1:$port"
# Warm every path uninstrumented (first requests fill caches, pools and allocator pages).
wrk -t1 -c4 -d3s -s "$ROOT/bench/lib/decide.lua" "$base/v1/decide" >/dev/null
wrk -t1 -c8 -d3s -s "$ROOT/bench/lib/consent.lua" "$base/v1/consent" -- "w$tag" >/dev/null
wrk -t1 -c8 -d3s -s "$ROOT/bench/lib/consent.lua" "$base/v1/consent" -- "x$tag" false >/dev/null

profile() { # NAME CONNS URL SCRIPT ARGS...
  local name=$1 conns=$2 url=$3 script=$4; shift 4
  callgrind_control -z "$vpid" >/dev/null 2>&1
  callgrind_control -i on "$vpid" >/dev/null 2>&1
  wrk -t1 -c"$conns" -d"${SECONDS_EACH}s" -s "$script" "$url" -- "$@" >"$dir/$name.wrk"
  callgrind_control -i off "$vpid" >/dev/null 2>&1
  callgrind_control -d "$name" "$vpid" >/dev/null 2>&1
  sleep 1
  local f; f=$(ls -t "$dir"/cg.*.* | head -1)
  local n; n=$(grep -o '[0-9]* requests in' "$dir/$name.wrk" | awk '{print $1}')
  callgrind_annotate --threshold=100 "$f" >"$dir/$name.annotate" 2>/dev/null
  local ir; ir=$(awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1; exit}' "$dir/$name.annotate")
  echo "=== $name: $n answers, $(awk -v i="$ir" -v n="$n" 'BEGIN{printf "%.0f", i/n}') instructions per answer (self cost per answer, top $TOP)"
  awk -v n="$n" -v top="$TOP" 'seen && NF && shown < top {ir=$1; gsub(",","",ir); $1=""; printf "%8.0f %s\n", ir/n, $0; shown++} /^Ir +file:function/ {seen=1; getline}' "$dir/$name.annotate"
  [ -z "${KEEP:-}" ] || cp "$f" "${KEEP}/cg.$name"
}
profile decide 4 "$base/v1/decide" "$ROOT/bench/lib/decide.lua"
profile write_given 8 "$base/v1/consent" "$ROOT/bench/lib/consent.lua" "m$tag"
profile write_refused 8 "$base/v1/consent" "$ROOT/bench/lib/consent.lua" "r$tag" false
written=$(grep -o '[0-9]* requests in' "$dir/write_given.wrk" | awk '{print $1}')
profile read 4 "$base/v1/consent" "$ROOT/bench/lib/consent-read.lua" "m$tag" "$written"
