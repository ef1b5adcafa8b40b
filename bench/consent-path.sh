#!/usr/bin/env bash
# The consent path against a decision, in one run per backend (issue 17): one `custodian serve`
# on a fresh database, and for each of decide, consent writes (given), consent writes (refused:
# the withdrawal path), and consent reads, the server's own CPU time (user+system, from /proc)
# per answer and the answers per second. Beside it, the one-row-per-commit rate of a minimal
# table on the same disk (`raw-inserts --minimal --clients 1`). CPU per answer moves far less
# than throughput on a shared machine, which is why the targets are stated in it.
#
#   bench/consent-path.sh                        # sqlite and postgres, 8 s per measurement
#   BACKENDS=sqlite DURATION=5 SKIP_BUILD=1 bench/consent-path.sh
#   BIN=/tmp/old bench/consent-path.sh           # an older build's binaries
#   RUNS=5 bench/consent-path.sh                 # five runs per backend, then the medians
#
# One run's ratios swing by ±15 % on a shared 2-core virtual machine (the load generator,
# PostgreSQL and the server share the cores); RUNS=5 reports each run and the median ratios.
#
# Targets: write CPU <= 3x decide CPU; read CPU <= 1.5x decide CPU; writes/s >= 2x raw commits/s.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

BACKENDS=${BACKENDS:-"sqlite postgres"}
RUNS=${RUNS:-1}
DURATION=${DURATION:-8}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq is required (apt-get install -y jq)" >&2; exit 1; }
build_release
machine
work=$(mktemp -d -t custodian-consent-path.XXXXXX)
DBS=()
drop_dbs() {
  local d; for d in "${DBS[@]:-}"; do
    [ -n "$d" ] && psql "$PG/postgres" -qAt -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true
  done
}
trap 'bench_cleanup; drop_dbs; rm -rf "$work"' EXIT INT TERM

hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sys_ticks() { awk '{print $15}' "/proc/$1/stat"; }
# Context switches of all the server's threads so far (a hand-off between threads costs two).
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s + 0}'; }

# measure NAME PID CONNECTIONS URL SCRIPT ARGS... : one wrk run; prints a JSON line with the
# answers, answers/s and server CPU µs per answer.
measure() {
  local name=$1 pid=$2 conns=$3 url=$4 script=$5; shift 5
  local t0 t1 s0 s1 c0 c1 out="$work/$name.txt"
  t0=$(cpu "$pid"); s0=$(sys_ticks "$pid"); c0=$(switches "$pid")
  wrk -t1 -c"$conns" -d"${DURATION}s" -s "$script" "$url" -- "$@" >"$out"
  # A write's work does not end with its answer: on SQLite the current state is folded from
  # the ledger's tail once the writer is quiet (`consent/fold.rs`). That fold is counted
  # against the writes: the server's CPU is read once it has stopped moving.
  [[ $name == write_* ]] && wait_quiet "$pid"
  t1=$(cpu "$pid"); s1=$(sys_ticks "$pid"); c1=$(switches "$pid")
  local j; j=$(grep -o 'BENCH_JSON.*' "$out" | sed 's/^BENCH_JSON //')
  jq -n -c --arg name "$name" --argjson j "$j" --argjson t0 "$t0" --argjson t1 "$t1" \
    --argjson s0 "$s0" --argjson s1 "$s1" --argjson c0 "$c0" --argjson c1 "$c1" --argjson hz "$hz" '
    ($j.requests) as $n |
    {name: $name, answers: $n, per_s: (($n / ($j.duration_us/1e6))|round),
     cpu_us: (if $n > 0 then (((($t1-$t0)*1e6/$hz/$n)*10|round)/10) else null end),
     sys_us: (if $n > 0 then (((($s1-$s0)*1e6/$hz/$n)*10|round)/10) else null end),
     switches: (if $n > 0 then (((($c1-$c0)/$n)*100|round)/100) else null end),
     bad: (($j.non2xx // 0) + ($j.non200 // 0) + ($j.other // 0))}'
}

for run in $(seq 1 "$RUNS"); do
for backend in $BACKENDS; do
  tag=$RANDOM$RANDOM
  dir="$work/$run-$backend"; mkdir -p "$dir"
  case $backend in
    sqlite)
      raw=$("$BIN/raw-inserts" sqlite "$dir/raw.db" --minimal --clients 1 --seconds "$DURATION" --warmup 1)
      url="sqlite://$dir/custodian.db" ;;
    postgres)
      rawdb="bench_raw_$tag"; db="bench_path_$tag"; DBS+=("$rawdb" "$db")
      psql "$PG/postgres" -qAt -c "CREATE DATABASE $rawdb" >/dev/null
      psql "$PG/postgres" -qAt -c "CREATE DATABASE $db" >/dev/null
      raw=$("$BIN/raw-inserts" postgres "$PG/$rawdb" --minimal --clients 1 --seconds "$DURATION" --warmup 1)
      url="$PG/$db" ;;
    *) echo "unknown backend $backend" >&2; exit 1 ;;
  esac
  ( cd "$dir" && "$BIN/custodian" --database-url "$url" token create --role service ) >"$dir/token" 2>"$dir/token.err"
  export BENCH_TOKEN; BENCH_TOKEN=$(tail -n1 "$dir/token")
  start_server "custodian-$backend" "$dir" env -C "$dir" "$BIN/custodian" --database-url "$url" serve --listen 127.0.0.1:0
  pid=$SERVER_PID; base="http://$SERVER_ADDR"
  # Warm-up of every path, then the measurements.
  wrk -t1 -c32 -d2s -s "$ROOT/bench/lib/decide.lua" "$base/v1/decide" >/dev/null
  wrk -t1 -c64 -d2s -s "$ROOT/bench/lib/consent.lua" "$base/v1/consent" -- "w$tag" >/dev/null
  wait_quiet "$pid"
  {
    measure decide "$pid" 32 "$base/v1/decide" "$ROOT/bench/lib/decide.lua"
    measure write_given "$pid" 64 "$base/v1/consent" "$ROOT/bench/lib/consent.lua" "m$tag"
    measure write_refused "$pid" 64 "$base/v1/consent" "$ROOT/bench/lib/consent.lua" "r$tag" false
  } >"$dir/results.jsonl"
  written=$(jq -s '.[] | select(.name=="write_given") | .answers' "$dir/results.jsonl")
  measure read "$pid" 32 "$base/v1/consent" "$ROOT/bench/lib/consent-read.lua" "m$tag" "$written" >>"$dir/results.jsonl"
  stop_server "$pid"
  jq -s -r --arg b "$backend" --argjson raw "$raw" '
    (map({(.name): .}) | add) as $r |
    ($r.decide.cpu_us) as $d |
    "\($b): decide \($r.decide.cpu_us) us CPU, \($r.decide.sys_us) of it in the kernel (\($r.decide.per_s)/s)",
    "\($b): write (given)   \($r.write_given.cpu_us) us CPU (\($r.write_given.sys_us) in the kernel, \($r.write_given.switches) context switches per write) = \(($r.write_given.cpu_us/$d*100|round)/100)x decide (target <= 3: \(if $r.write_given.cpu_us <= 3*$d then "MET" else "NOT MET" end)); \($r.write_given.per_s) writes/s = \(($r.write_given.per_s/$raw.rows_per_s*100|round)/100)x raw \($raw.rows_per_s) commits/s (target >= 2: \(if $r.write_given.per_s >= 2*$raw.rows_per_s then "MET" else "NOT MET" end))",
    "\($b): write (refused) \($r.write_refused.cpu_us) us CPU = \(($r.write_refused.cpu_us/$d*100|round)/100)x decide; \($r.write_refused.per_s) writes/s = \(($r.write_refused.per_s/$raw.rows_per_s*100|round)/100)x raw",
    "\($b): read  \($r.read.cpu_us) us CPU = \(($r.read.cpu_us/$d*100|round)/100)x decide (target <= 1.5: \(if $r.read.cpu_us <= 1.5*$d then "MET" else "NOT MET" end)); \($r.read.per_s) reads/s",
    "\($b): answers other than expected: \([$r[] | .bad] | add)"
  ' "$dir/results.jsonl"
  jq -s -c --arg b "$backend" --argjson raw "$raw" '
    (map({(.name): .}) | add) as $r |
    {backend: $b, write: ($r.write_given.cpu_us / $r.decide.cpu_us),
     refused: ($r.write_refused.cpu_us / $r.decide.cpu_us),
     read: ($r.read.cpu_us / $r.decide.cpu_us),
     throughput: ($r.write_given.per_s / $raw.rows_per_s)}' "$dir/results.jsonl" >>"$work/ratios.jsonl"
done
done
if [ "$RUNS" -gt 1 ]; then
  echo "medians of $RUNS runs:"
  jq -s -r 'def median: sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
    def r2: (. * 100 | round) / 100;
    group_by(.backend)[] | .[0].backend as $b |
    "\($b): write CPU \(map(.write) | median | r2)x decide (target <= 3), refused \(map(.refused) | median | r2)x, read \(map(.read) | median | r2)x (target <= 1.5), writes/s \(map(.throughput) | median | r2)x raw commits/s (target >= 2); write ratios of the runs: \(map(.write | r2))"' "$work/ratios.jsonl"
fi
