#!/usr/bin/env bash
# Several nodes on one PostgreSQL database (issue 15): throughput of 1, 2 and 3 `custodian
# serve` processes side by side — durable consent writes and decisions, the load spread evenly
# over the nodes (one wrk per node) — and how long a consent written on one node takes to be
# visible to decisions on another (p50/p99, under a background write load on every node;
# crates/bench's `cluster-visibility`).
#
#   bench/cluster.sh                           # release build, 15 s per measurement
#   BUILD=debug DURATION=10 bench/cluster.sh   # the debug build (say so with the figures)
#   NODES="1 3" VISIBILITY_COUNT=500 bench/cluster.sh
#   NODES=1 BUILD=debug SKIP_BUILD=1 BIN=/other/target/debug bench/cluster.sh   # another build
#   PG=postgres://postgres@127.0.0.1:5432  (server URL without database; a fresh database per
#   node count, dropped at the end)
#
# Every node, the database and wrk share this machine's cores: the ratio says what a second
# and third node add *here*; on separate machines each node brings its own cores.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

NODES=${NODES:-"1 2 3"}
CONNECTIONS=${CONNECTIONS:-48}
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-2}
VISIBILITY_COUNT=${VISIBILITY_COUNT:-300}
BACKGROUND_CONNECTIONS=${BACKGROUND_CONNECTIONS:-6}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
PG=${PG%/}
BUILD=${BUILD:-release}

command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 1; }
if [ "$BUILD" = debug ]; then
  # BIN=DIR still names another build's binaries (e.g. an older one, for a before/after).
  [ "$BIN" = "$ROOT/target/release" ] && BIN="$ROOT/target/debug"
  [ -n "${SKIP_BUILD:-}" ] || (cd "$ROOT" && cargo build -q -p custodian -p custodian-bench --bin cluster-visibility)
  echo "binaries: DEBUG build in $BIN, custodian built $(date -r "$BIN/custodian" '+%F %T')"
else
  build_release
fi
machine
echo "PostgreSQL $(psql -XtAc 'SHOW server_version' "$PG/postgres"); wrk -t1 per node, $CONNECTIONS connections in all, ${DURATION}s after ${WARMUP}s warm-up"

export CUSTODIAN_SECRET=5eb63bbbe01eeed093cb22bb8f5acdc35eb63bbbe01eeed093cb22bb8f5acdc3
export CUSTODIAN_MASTER_KEY=4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d
export CUSTODIAN_LOG=warn,sqlx=error
# wrk writes from one loopback client far above a visitor's rate: no per-client consent limit.
export CUSTODIAN_CONSENT_LIMIT_PER_CLIENT=0
work=$(mktemp -d -t custodian-cluster.XXXXXX)
tag=$(date +%s)
DBS=()
drop_dbs() { local d; for d in "${DBS[@]:-}"; do [ -n "$d" ] && psql -Xq "$PG/postgres" -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true; done; }
trap 'bench_cleanup; drop_dbs; rm -rf "$work"' EXIT INT TERM

# spread SCRIPT PATH SECONDS TAG: one wrk per node, at once (device ids unique per node: the
# same device written on two nodes at once answers 200, nothing new); sums what they counted.
spread() {
  local script=$1 path=$2 secs=$3 tag=$4
  local per=$(( CONNECTIONS / ${#ADDRS[@]} )) i=0 pids=()
  for addr in "${ADDRS[@]}"; do
    wrk -t1 -c"$per" -d"${secs}s" --latency -s "$ROOT/bench/lib/$script" "http://$addr$path" -- "${tag}n$i" \
      >"$run/wrk-$i.txt" 2>&1 &
    pids+=($!); i=$((i + 1))
  done
  wait "${pids[@]}"
  local f; for f in "$run"/wrk-*.txt; do bench_json "$f"; done | jq -s -c '{
    ok: (map(.created // (.requests - .non2xx)) | add),
    other: (map(.other // .non2xx) | add),
    seconds: (map(.duration_us) | max / 1e6),
    p99_ms: (map(.p99_us) | max / 1000)} | . + {rps: ((.ok / .seconds) | round)}'
  rm -f "$run"/wrk-*.txt
}

results=()
for n in $NODES; do
  db=custodian_bench_cluster_${tag}_$n; DBS+=("$db")
  psql -Xq "$PG/postgres" -c "CREATE DATABASE $db"
  export CUSTODIAN_DATABASE_URL="$PG/$db"
  run="$work/$n"; mkdir -p "$run"
  token=$(cd "$run" && "$BIN/custodian" token create --role service --name bench)
  ADDRS=()
  for i in $(seq 1 "$n"); do
    mkdir -p "$run/node-$i"
    start_server node "$run/node-$i" env -C "$run/node-$i" "$BIN/custodian" serve --listen 127.0.0.1:0
    ADDRS+=("$SERVER_ADDR")
  done
  echo "== $n node(s): ${ADDRS[*]}" >&2
  spread consent.lua /v1/consent "$WARMUP" "w$tag" >/dev/null
  writes=$(spread consent.lua /v1/consent "$DURATION" "m$tag")
  export BENCH_TOKEN=$token
  decides=$(spread decide.lua /v1/decide "$DURATION" d)
  visibility=null
  if [ "$n" -ge 2 ]; then
    # A steady write load on every node while the probe measures.
    bg=()
    for addr in "${ADDRS[@]}"; do
      wrk -t1 -c"$BACKGROUND_CONNECTIONS" -d600s -s "$ROOT/bench/lib/consent.lua" "http://$addr/v1/consent" -- "bg${tag}n${#bg[@]}" >/dev/null 2>&1 &
      bg+=($!); BENCH_PIDS+=($!)
    done
    sleep 1
    visibility=$("$BIN/cluster-visibility" --count "$VISIBILITY_COUNT" --token "$token" $(printf 'http://%s ' "${ADDRS[@]}"))
    for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  fi
  verify=ok; (cd "$run" && "$BIN/custodian" ledger verify >/dev/null 2>&1) || verify=FAILED
  bench_cleanup
  results+=("$(jq -n -c --argjson n "$n" --argjson w "$writes" --argjson d "$decides" --argjson v "$visibility" --arg lv "$verify" \
    '{nodes: $n, consent_writes_per_s: $w.rps, consent_other: $w.other, consent_p99_ms: $w.p99_ms,
      decides_per_s: $d.rps, decide_other: $d.other, decide_p99_ms: $d.p99_ms, visibility: $v, ledger_verify: $lv}')")
  echo "${results[-1]}"
done

echo
base_w=$(echo "${results[0]}" | jq .consent_writes_per_s); base_d=$(echo "${results[0]}" | jq .decides_per_s)
printf '%-6s %14s %7s %12s %7s %18s\n' nodes "consent/s" ratio "decides/s" ratio "visibility p50/p99"
for r in "${results[@]}"; do
  echo "$r" | jq -r --argjson bw "$base_w" --argjson bd "$base_d" '[.nodes, .consent_writes_per_s, (.consent_writes_per_s / $bw * 100 | round / 100),
    .decides_per_s, (.decides_per_s / $bd * 100 | round / 100),
    (if .visibility == null then "-" else "\(.visibility.p50_ms) / \(.visibility.p99_ms) ms (max \(.visibility.max_ms), lost \(.visibility.lost))" end)] | @tsv' |
    awk -F'\t' '{ printf "%-6s %14s %7s %12s %7s   %s\n", $1, $2, $3, $4, $5, $6 }'
done
