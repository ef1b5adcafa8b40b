#!/usr/bin/env bash
# Retention: purge 1,000,000 expired records while /v1/decide is under load, on loopback.
#
#   bench/retention.sh                    # 500,000 closed accounts x 2 lifecycle events
#   SUBJECTS=100000 DURATION=10 bench/retention.sh
#
# 1. Seeds an SQLite database with SUBJECTS subjects whose accounts closed in 2020 (two
#    lifecycle events each: 1,000,000 records by default) and starts `custodian serve` on it.
# 2. Idle: wrk on /v1/decide for DURATION seconds -> idle p99.
# 3. Busy: wrk again while `custodian retention run --as-of 2030-01-01` purges every record
#    (in pages of 500 subjects, one short transaction each) -> p99 under purge, purge time.
# 4. Sealing cost per request write (in process): crates/core/examples/seal_cost.rs.
# Target (issue 7): p99 while purging <= 2x idle p99.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

SUBJECTS=${SUBJECTS:-500000}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-15}

command -v wrk >/dev/null || { echo "wrk is required" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is required (to seed)" >&2; exit 1; }
build_release
machine

work=$(mktemp -d -t custodian-retention.XXXXXX)
( cd "$work" && "$BIN/custodian" token create --role service >token 2>token.err )
export BENCH_TOKEN=$(tail -n1 "$work/token")

echo "seeding $SUBJECTS closed accounts ($((SUBJECTS * 2)) lifecycle records)..."
t0=$(date +%s.%N)
sqlite3 "$work/custodian.db" <<SQL
PRAGMA journal_mode=WAL;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $SUBJECTS)
INSERT INTO lifecycle_events (subject_ref, kind, at, under_minimum_age, country, recorded_at)
SELECT printf('%064x', x), k.kind, k.at, NULL, NULL, k.at FROM c,
  (SELECT 'account_opened' AS kind, 1514764800000000 AS at UNION ALL SELECT 'account_closed', 1577836800000000) AS k;
SQL
echo "seeded in $(echo "$(date +%s.%N) - $t0" | bc) s: $(sqlite3 "$work/custodian.db" 'SELECT COUNT(*) FROM lifecycle_events') records"

start_server custodian "$work" bash -c "cd '$work' && exec '$BIN/custodian' serve --listen 127.0.0.1:0"
ADDR=$SERVER_ADDR
body='{"subject":{"email":"ada@example.com"},"purpose":"analytics","categories":["analytics_events"],"country":"DE"}'
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BENCH_TOKEN" -H 'Content-Type: application/json' -d "$body" "http://$ADDR/v1/decide")
[ "$code" = 200 ] || { echo "decide answered $code" >&2; exit 1; }

wrk_p99() { # OUT
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$ROOT/bench/lib/decide.lua" "http://$ADDR/v1/decide" >"$1"
  bench_json "$1" | jq -c '{rps:((.requests/(.duration_us/1e6))|round), p50_us, p99_us, non2xx}'
}

wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$ROOT/bench/lib/decide.lua" "http://$ADDR/v1/decide" >/dev/null
echo "idle:    $(wrk_p99 "$work/idle.txt" | tee "$work/idle.json")"

# The purge runs in its own process against the same database while wrk measures decide.
( cd "$work" && t=$(date +%s.%N) && "$BIN/custodian" retention run --as-of 2030-01-01 --json >purge.json 2>purge.err \
  && echo "$(date +%s.%N) - $t" | bc >purge.secs ) &
PURGE_PID=$!; BENCH_PIDS+=("$PURGE_PID")
echo "purging: $(wrk_p99 "$work/busy.txt" | tee "$work/busy.json")"
wait "$PURGE_PID"
secs=$(cat "$work/purge.secs")
echo "purge: $(jq -c '{due, records_purged}' "$work/purge.json") in ${secs} s ($(echo "$(jq .records_purged "$work/purge.json") / $secs" | bc) records/s)"
left=$(sqlite3 "$work/custodian.db" 'SELECT COUNT(*) FROM lifecycle_events')
echo "lifecycle records left: $left; purge records written: $(sqlite3 "$work/custodian.db" 'SELECT COUNT(*) FROM retention_purges')"
if (( $(echo "$secs > $DURATION" | bc) )); then
  echo "note: the purge outlasted the ${DURATION}s measurement window; the busy p99 covers its first ${DURATION}s"
fi
jq -rn --slurpfile i "$work/idle.json" --slurpfile b "$work/busy.json" \
  '"p99 ratio purging/idle: \(($b[0].p99_us/$i[0].p99_us*100|round)/100) (target <= 2) -> \(if $b[0].p99_us <= 2*$i[0].p99_us then "MET" else "NOT MET" end)"'

echo "--- sealing cost per request write (in process) ---"
(cd "$ROOT" && cargo run --release -q -p custodian-core --example seal_cost)
