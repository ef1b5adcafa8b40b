#!/usr/bin/env bash
# Data-subject request intake over HTTP: 32 clients, a unique address per request, each answer
# 202 only after the request and its verification mail are committed (one transaction). The
# outbox is not drained meanwhile (no SMTP configured), so this measures intake alone.
#
#   bench/intake.sh                       # SQLite and PostgreSQL, 15 s each
#   BACKENDS=sqlite DURATION=10 bench/intake.sh
#
# Target (issue 5): at least 2,000 requests/s. For scale, quoted from the issue (not measured
# here): Fides 2.86 took in 21 requests/s on this kind of machine.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

BACKENDS=${BACKENDS:-"sqlite postgres"}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
DURATION=${DURATION:-15}
PG=${PG:-postgres://postgres@127.0.0.1:5432}

command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 1; }
build_release
machine
work=$(mktemp -d -t custodian-intake.XXXXXX)
tag=$(date +%s)
DBS=()
trap 'bench_cleanup; for d in "${DBS[@]:-}"; do [ -n "$d" ] && psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true; done' EXIT INT TERM

echo "| backend | accepted/s | other answers | p50 | p99 | target |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
for backend in $BACKENDS; do
  dir="$work/$backend"; mkdir -p "$dir"
  if [ "$backend" = postgres ]; then
    db="custodian_bench_intake_$tag"; DBS+=("$db")
    psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $db" >/dev/null
    url="$PG/$db"
  else
    url="sqlite://$dir/custodian.db"
  fi
  "$BIN/custodian" keys generate >"$dir/master.key"   # kept in the bench folder, not the checkout
  start_server "custodian-$backend" "$dir" env -u CUSTODIAN_SMTP_URL "$BIN/custodian" --database-url "$url" serve \
    --listen 127.0.0.1:0 --secret-file "$dir/secret" --master-key-file "$dir/master.key" \
    --intake-limit-per-client 100000000 --intake-limit-per-address 1000
  addr=$SERVER_ADDR
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -s "$ROOT/bench/lib/intake.lua" "http://$addr/v1/requests" -- "w$tag" >/dev/null
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$ROOT/bench/lib/intake.lua" \
    "http://$addr/v1/requests" -- "m$tag" >"$dir/wrk.txt"
  stop_server "$SERVER_PID"
  python3 - "$dir/wrk.txt" "$backend" <<'PY'
import json, sys
line = next(l for l in open(sys.argv[1]) if l.startswith("BENCH_JSON "))
j = json.loads(line[len("BENCH_JSON "):])
rate = j["accepted"] / (j["duration_us"] / 1e6)
verdict = "met" if rate >= 2000 else "not met"
print(f"| {sys.argv[2]} | {rate:,.0f} | {j['other']} | {j['p50_us']/1000:.1f} ms | {j['p99_us']/1000:.1f} ms | >= 2,000/s: {verdict} |")
PY
done
