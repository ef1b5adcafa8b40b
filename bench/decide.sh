#!/usr/bin/env bash
# /v1/decide over HTTP on loopback against a constant server on the same stack, in one run.
#
#   bench/decide.sh                      # 64 connections, wrk -t1, 2 rounds x 15 s per server
#   THREADS=2 DURATION=15 ROUNDS=2 WARMUP=3 CONNECTIONS=64 bench/decide.sh
#   SKIP_CRITERION=1 bench/decide.sh     # skip the in-process criterion bench
#
# Rounds alternate constant, custodian, constant, custodian, ... so drift (thermal, noisy
# neighbours) hits both. Targets (issue 2): custodian >= 85% of constant's throughput and
# p99 <= 1.5x constant's p99; one decision in process < 2 us.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-3}
ROUNDS=${ROUNDS:-2}

command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 1; }
build_release
machine
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency (after ${WARMUP}s warm-up), $ROUNDS rounds alternating"

work=$(mktemp -d -t custodian-decide.XXXXXX)
( cd "$work" && "$BIN/custodian" token create --role service >token 2>token.err )
export BENCH_TOKEN=$(tail -n1 "$work/token")

start_server constant "$work" "$BIN/constant-server" 127.0.0.1:0
CONST_ADDR=$SERVER_ADDR
( cd "$work" && exec "$BIN/custodian" serve --listen 127.0.0.1:0 ) >"$work/custodian.out" 2>"$work/custodian.err" &
CUST_PID=$!; BENCH_PIDS+=("$CUST_PID")
for _ in $(seq 1 300); do grep -q 'listening on' "$work/custodian.out" 2>/dev/null && break; sleep 0.1; done
CUST_ADDR=$(grep -m1 -o 'http://[^ ]*' "$work/custodian.out" | sed 's#http://##')
[ -n "$CUST_ADDR" ] || { echo "custodian did not start" >&2; cat "$work/custodian.err" >&2; exit 1; }

# Sanity: both answer 200 to the same request.
body='{"subject":{"email":"ada@example.com"},"purpose":"analytics","categories":["analytics_events","keystrokes"],"country":"DE"}'
for a in "$CONST_ADDR" "$CUST_ADDR"; do
  code=$(curl -s -o "$work/sample.json" -w '%{http_code}' -H "Authorization: Bearer $BENCH_TOKEN" \
    -H 'Content-Type: application/json' -d "$body" "http://$a/v1/decide")
  [ "$code" = 200 ] || { echo "$a answered $code: $(cat "$work/sample.json")" >&2; exit 1; }
done
echo "custodian answers: $(cat "$work/sample.json")"

CONST_PID=$SERVER_PID
TICKS=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime of a process

run_wrk() { # NAME ADDR ROUND PID
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s "$ROOT/bench/lib/decide.lua" "http://$2/v1/decide" >/dev/null
  local t0; t0=$(cpu_ticks "$4")
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$ROOT/bench/lib/decide.lua" \
    "http://$2/v1/decide" >"$work/wrk-$1-$3.txt"
  local t1; t1=$(cpu_ticks "$4")
  local j; j=$(bench_json "$work/wrk-$1-$3.txt")
  # cpu_us_per_req: the server's own CPU time (user + system) per answered request, which
  # other load on the machine disturbs far less than throughput.
  echo "$j" | jq -c --arg n "$1" --argjson r "$3" --argjson ticks "$((t1 - t0))" --argjson hz "$TICKS" \
    '{server:$n, round:$r, rps:((.requests/(.duration_us/1e6))|round), p50_us, p99_us, cpu_us_per_req:(($ticks/$hz*1e6/.requests)*10|round/10), non2xx, errors:(.errors_connect+.errors_read+.errors_write+.errors_timeout)}' \
    | tee -a "$work/results.jsonl"
}

for r in $(seq 1 "$ROUNDS"); do
  run_wrk constant "$CONST_ADDR" "$r" "$CONST_PID"
  run_wrk custodian "$CUST_ADDR" "$r" "$CUST_PID"
done
grep VmRSS "/proc/$CUST_PID/status" | sed 's/^/custodian after load: /'

echo "--- summary (mean over rounds) ---"
jq -s -r '
  def m(s; f): (map(select(.server==s) | f) | add / length);
  (m("constant"; .rps)) as $cr | (m("custodian"; .rps)) as $dr |
  (m("constant"; .p50_us)) as $c50 | (m("custodian"; .p50_us)) as $d50 |
  (m("constant"; .p99_us)) as $c99 | (m("custodian"; .p99_us)) as $d99 |
  "constant : \($cr|round) req/s, p50 \($c50|round) us, p99 \($c99|round) us",
  "custodian: \($dr|round) req/s, p50 \($d50|round) us, p99 \($d99|round) us",
  "throughput ratio custodian/constant: \(($dr/$cr*1000|round)/1000) (target >= 0.85) -> \(if $dr/$cr >= 0.85 then "MET" else "NOT MET" end)",
  "p99 ratio custodian/constant: \(($d99/$c99*1000|round)/1000) (target <= 1.5) -> \(if $d99/$c99 <= 1.5 then "MET" else "NOT MET" end)",
  "non-2xx/errors: \(map(.non2xx + .errors) | add)"
' "$work/results.jsonl"
bench_cleanup

if [ -z "${SKIP_CRITERION:-}" ]; then
  echo "--- in process: cargo bench -p custodian-core --bench decide ---"
  (cd "$ROOT" && cargo bench -q -p custodian-core --bench decide 2>&1) | grep -E '^[a-z_/ ]+|time:' || true
fi
rm -rf "$work"
