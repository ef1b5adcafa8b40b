#!/usr/bin/env bash
# Server CPU per durable consent write: one `custodian serve` on a fresh database (SQLite file or
# a new PostgreSQL database), 2 s of warm-up, then wrk -t1 -c64 for DURATION seconds with a new
# device per request; the server's own user+system CPU time (from /proc) divided by the answers.
# CPU per request moves far less than throughput on a shared machine, so two builds compare well.
#
#   bench/consent-cpu.sh BINARY [sqlite|postgres]      # e.g. target/release/custodian postgres
#   DURATION=8 PG=postgres://postgres@127.0.0.1:5432 bench/consent-cpu.sh /tmp/old/custodian postgres
#   GIVEN=false bench/consent-cpu.sh BINARY sqlite     # refusals: the withdrawal path
#
# Prints one line: backend, answers, writes/s and CPU µs per write.
set -euo pipefail
# One client loads the consent path on purpose: its per-client limit is off.
export CUSTODIAN_CONSENT_LIMIT_PER_CLIENT=0
BIN=${1:?usage: bench/consent-cpu.sh BINARY [sqlite|postgres]}
BACKEND=${2:-sqlite}
DURATION=${DURATION:-8}
GIVEN=${GIVEN:-true}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 1; }
tag=$RANDOM$RANDOM
dir=$(mktemp -d -t custodian-consent-cpu.XXXXXX)
case $BACKEND in
  sqlite) url="sqlite://$dir/custodian.db" ;;
  postgres)
    db="bench_cpu_$tag"
    psql "$PG/postgres" -qAt -c "CREATE DATABASE $db" >/dev/null
    url="$PG/$db" ;;
  *) echo "unknown backend $BACKEND" >&2; exit 1 ;;
esac
( cd "$dir" && exec "$BIN" --database-url "$url" serve --listen 127.0.0.1:0 ) >"$dir/out.txt" 2>"$dir/err.txt" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  [ "$BACKEND" = postgres ] && psql "$PG/postgres" -qAt -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 300); do grep -q 'listening on' "$dir/out.txt" 2>/dev/null && break; sleep 0.1; done
addr=$(grep -m1 -o 'http://[^ ]*' "$dir/out.txt" | sed 's#http://##')
[ -n "$addr" ] || { echo "custodian did not start" >&2; cat "$dir/err.txt" >&2; exit 1; }
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
wrk -t1 -c64 -d2s -s "$ROOT/bench/lib/consent.lua" "http://$addr/v1/consent" -- "w$tag" "$GIVEN" >/dev/null
t0=$(cpu)
wrk -t1 -c64 -d"${DURATION}s" -s "$ROOT/bench/lib/consent.lua" "http://$addr/v1/consent" -- "m$tag" "$GIVEN" >"$dir/wrk.txt"
t1=$(cpu)
n=$(grep -o '[0-9]* requests in' "$dir/wrk.txt" | awk '{print $1}')
hz=$(getconf CLK_TCK)
awk -v b="$BACKEND" -v g="$GIVEN" -v n="$n" -v d="$DURATION" -v t0="$t0" -v t1="$t1" -v hz="$hz" \
  'BEGIN { printf "%s, given=" g ": %d answers, %.0f writes/s, server CPU %.1f us per write\n", b, n, n/d, (t1-t0)*1e6/hz/n }'
