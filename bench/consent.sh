#!/usr/bin/env bash
# Durable consent writes over HTTP (64 clients, a unique device id per request) on SQLite and
# PostgreSQL, side by side with the raw one-row-per-transaction insert rate of the same
# database, in one run. Afterwards: `custodian ledger verify` passes, and the number of 201
# answers is <= the rows in consent_events (no acknowledgement without a row).
#
#   bench/consent.sh                          # both backends, 15 s per measurement
#   BACKENDS=sqlite DURATION=10 bench/consent.sh
#   PG=postgres://postgres@127.0.0.1:5432  (server URL without database; a fresh database is
#   created per run and dropped at the end; KEEP_DB=1 keeps it)
#
# Target (issue 3): HTTP durable writes >= 2x the raw rate of the same database.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

BACKENDS=${BACKENDS:-"sqlite postgres"}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-2}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
PG_HOST=$(echo "$PG" | sed -E 's#^postgres(ql)?://([^@]*@)?([^:/]*).*#\3#')
PG_PORT=$(echo "$PG" | sed -nE 's#^.*:([0-9]+)/?$#\1#p'); PG_PORT=${PG_PORT:-5432}
PG_USER=$(echo "$PG" | sed -nE 's#^postgres(ql)?://([^@:]*)[:@].*#\2#p'); PG_USER=${PG_USER:-postgres}

command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 1; }
build_release
machine
echo "HTTP: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s (after ${WARMUP}s warm-up); raw: raw-inserts --seconds $DURATION, 1 and $CONNECTIONS clients"

work=$(mktemp -d -t custodian-consent.XXXXXX)
tag=$(date +%s)
CREATED_DBS=()
psql_() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -v ON_ERROR_STOP=1 -qAt "$@"; }
drop_dbs() {
  [ -n "${KEEP_DB:-}" ] && return 0
  local d; for d in "${CREATED_DBS[@]:-}"; do
    [ -n "$d" ] && psql_ -d postgres -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true
  done
}
trap 'bench_cleanup; drop_dbs' EXIT INT TERM

raw() { # BACKEND TARGET CLIENTS
  "$BIN/raw-inserts" "$1" "$2" --clients "$3" --seconds "$DURATION" --warmup 1
}

http_run() { # BACKEND DBURL DIR
  local backend=$1 url=$2 dir=$3
  ( cd "$dir" && "$BIN/custodian" --database-url "$url" serve --listen 127.0.0.1:0 ) \
    >"$dir/custodian.out" 2>"$dir/custodian.err" &
  local pid=$!; BENCH_PIDS+=("$pid")
  for _ in $(seq 1 300); do grep -q 'listening on' "$dir/custodian.out" 2>/dev/null && break; sleep 0.1; done
  local addr; addr=$(grep -m1 -o 'http://[^ ]*' "$dir/custodian.out" | sed 's#http://##')
  [ -n "$addr" ] || { echo "custodian ($backend) did not start" >&2; cat "$dir/custodian.err" >&2; exit 1; }
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s "$ROOT/bench/lib/consent.lua" \
    "http://$addr/v1/consent" -- "w$tag" >"$dir/wrk-warmup.txt"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$ROOT/bench/lib/consent.lua" \
    "http://$addr/v1/consent" -- "m$tag" >"$dir/wrk.txt"
  stop_server "$pid"   # SIGTERM: graceful shutdown; every 201 was durable before it was sent
  local warm meas
  warm=$(bench_json "$dir/wrk-warmup.txt"); meas=$(bench_json "$dir/wrk.txt")
  # Integrity: ledger verify, and 201 answers (warm-up + measured) <= rows in consent_events.
  local verify_rc=0
  ( cd "$dir" && "$BIN/custodian" --database-url "$url" ledger verify ) >"$dir/verify.txt" 2>&1 || verify_rc=$?
  local rows
  if [ "$backend" = sqlite ]; then
    rows=$(sqlite_count "$dir/custodian.db")
  else
    rows=$(psql_ -d "${url##*/}" -c 'SELECT count(*) FROM consent_events')
  fi
  jq -n -c --arg b "$backend" --argjson w "$warm" --argjson m "$meas" --argjson rows "$rows" --argjson vrc "$verify_rc" '{
      backend: $b, kind: "http", clients: '"$CONNECTIONS"',
      rps: (($m.created / ($m.duration_us/1e6))|round), created: $m.created, other: ($m.other + $w.other),
      errors: ($m.errors_connect+$m.errors_read+$m.errors_write+$m.errors_timeout),
      p50_ms: ($m.p50_us/1000), p99_ms: ($m.p99_us/1000),
      acked_total: ($w.created + $m.created), rows: $rows,
      no_ack_without_row: (($w.created + $m.created) <= $rows), ledger_verify_ok: ($vrc == 0)}'
  tail -n 3 "$dir/verify.txt" | sed 's/^/  ledger verify: /' >&2
}

# Row count of an SQLite file without the sqlite3 CLI: python3's sqlite3 module if present.
sqlite_count() {
  if command -v sqlite3 >/dev/null; then sqlite3 "$1" 'SELECT count(*) FROM consent_events'
  else python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM consent_events").fetchone()[0])' "$1"
  fi
}

for backend in $BACKENDS; do
  echo "=== $backend ==="
  case $backend in
    sqlite)
      for c in 1 "$CONNECTIONS"; do
        d="$work/raw-sqlite-$c"; mkdir -p "$d"
        raw sqlite "$d/raw.db" "$c" | tee -a "$work/results.jsonl"
      done
      d="$work/http-sqlite"; mkdir -p "$d"
      http_run sqlite "sqlite://$d/custodian.db" "$d" | tee -a "$work/results.jsonl"
      ;;
    postgres)
      for c in 1 "$CONNECTIONS"; do
        db="bench_raw_${tag}_$c"; CREATED_DBS+=("$db")
        psql_ -d postgres -c "CREATE DATABASE $db" >/dev/null
        raw postgres "$PG/$db" "$c" | tee -a "$work/results.jsonl"
      done
      db="bench_http_${tag}"; CREATED_DBS+=("$db")
      psql_ -d postgres -c "CREATE DATABASE $db" >/dev/null
      d="$work/http-postgres"; mkdir -p "$d"
      http_run postgres "$PG/$db" "$d" | tee -a "$work/results.jsonl"
      ;;
    *) echo "unknown backend $backend" >&2; exit 1 ;;
  esac
done

echo "--- summary ---"
jq -s -r '
  group_by(.db // .backend)[] |
  (map(select(.rows_per_s)) | max_by(.rows_per_s)) as $raw |
  (map(select(.kind=="http"))[0]) as $h |
  "\($h.backend): HTTP \($h.rps) durable writes/s (p50 \($h.p50_ms) ms, p99 \($h.p99_ms) ms); raw reference \($raw.rows_per_s) rows/s (best of 1/64 clients: \($raw.clients) clients); ratio \(($h.rps/$raw.rows_per_s*100|round)/100) (target >= 2) -> \(if $h.rps >= 2*$raw.rows_per_s then "MET" else "NOT MET" end); 201s \($h.acked_total) <= rows \($h.rows): \($h.no_ack_without_row); ledger verify ok: \($h.ledger_verify_ok); non-201 \($h.other), socket errors \($h.errors)"
' "$work/results.jsonl"
rm -rf "$work"
