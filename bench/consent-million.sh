#!/usr/bin/env bash
# A million subjects' consent (issue 17, item 4): what the in-memory state costs per subject and
# per choice, and how long `custodian serve` takes to start with that ledger.
#
# Builds the ledger the way a company would bring its history in — `custodian consent import`
# of a CSV with SUBJECTS device ids, each with a choice for every purpose in PURPOSES — on
# SQLite (and, with BACKENDS="sqlite postgres", on a fresh PostgreSQL database too). Then, per
# backend: the resident memory of a server on an empty database and on the loaded one (after
# start-up, idle), and the time from launch to "listening" (median of RUNS starts; the state
# is loaded before the server listens), once loading every current choice from the store
# (CUSTODIAN_CONSENT_IMAGE=off) and once from the image of memory the last clean stop left
# plus the ledger after it (the default).
#
#   bench/consent-million.sh
#   SUBJECTS=200000 RUNS=3 BACKENDS="sqlite postgres" SKIP_BUILD=1 bench/consent-million.sh
#
# Targets: <= 100 bytes of resident memory per subject-purpose choice; start-up <= 2 s.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
SUBJECTS=${SUBJECTS:-1000000}
PURPOSES=${PURPOSES:-"analytics advertising social_widgets"}
RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-sqlite}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
build_release
machine
work=$(mktemp -d -t custodian-million.XXXXXX)
DBS=()
trap 'bench_cleanup; for d in "${DBS[@]:-}"; do [ -n "$d" ] && psql "$PG/postgres" -qAt -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1; done; rm -rf "$work"' EXIT INT TERM
np=$(echo $PURPOSES | wc -w)
choices=$((SUBJECTS * np))

echo "generating $SUBJECTS subjects x $np purposes ($choices choices)"
python3 - "$SUBJECTS" $PURPOSES >"$work/consent.csv" <<'PY'
import random, sys
n, purposes = int(sys.argv[1]), sys.argv[2:]
rnd = random.Random(17)
out = sys.stdout
out.write("device_id,purpose,given\n")
for i in range(n):
    for p in purposes:
        out.write(f"million-{i:08d},{p},{'true' if rnd.random() < 0.6 else 'false'}\n")
PY

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# start_and_measure DIR URL [IMAGE]: prints "startup_ms rss_kb" of one start, idle after 2 s.
# IMAGE is the consent image setting (`off`: load every current choice from the store).
start_and_measure() {
  local dir=$1 url=$2 image=${3:-$1/c.consent-image} t0 t1 rss
  t0=$(date +%s%N)
  start_server custodian "$dir" env -C "$dir" CUSTODIAN_CONSENT_IMAGE="$image" "$BIN/custodian" --database-url "$url" serve --listen 127.0.0.1:0
  t1=$(date +%s%N)
  sleep 2
  rss=$(rss_kb "$SERVER_PID")
  stop_server "$SERVER_PID"
  echo "$(( (t1 - t0) / 1000000 )) $rss"
}

for backend in $BACKENDS; do
  empty="$work/$backend-empty"; full="$work/$backend-full"; mkdir -p "$empty" "$full"
  case $backend in
    sqlite) url_empty="sqlite://$empty/c.db"; url_full="sqlite://$full/c.db" ;;
    postgres)
      tag=$RANDOM$RANDOM; DBS+=("bench_m_e_$tag" "bench_m_f_$tag")
      psql "$PG/postgres" -qAt -c "CREATE DATABASE bench_m_e_$tag" -c "CREATE DATABASE bench_m_f_$tag" >/dev/null
      url_empty="$PG/bench_m_e_$tag"; url_full="$PG/bench_m_f_$tag" ;;
  esac
  # The same secret in both folders, so the import's references are the server's.
  start_and_measure "$full" "$url_full" >/dev/null
  t0=$(date +%s)
  ( cd "$full" && "$BIN/custodian" --database-url "$url_full" consent import "$work/consent.csv" ) >"$full/import.out" 2>&1 \
    || { cat "$full/import.out" >&2; exit 1; }
  echo "$backend: imported $choices choices in $(( $(date +%s) - t0 )) s ($(tail -n2 "$full/import.out" | head -n1))"
  # The first start after the import reads every current choice (the image made before the
  # import is far behind) and leaves an image at its clean stop; later starts read it.
  read -r ms _ < <(start_and_measure "$full" "$url_full")
  echo "$backend: first start after the import (full load, writes the image at stop): $ms ms; image $(du -k "$full/c.consent-image" | cut -f1) KB"
  : >"$work/$backend.runs"; : >"$work/$backend.image"
  for _ in $(seq 1 "$RUNS"); do
    read -r _ rss0 < <(start_and_measure "$empty" "$url_empty" off)
    read -r ms rss1 < <(start_and_measure "$full" "$url_full" off)
    echo "$ms $rss0 $rss1" >>"$work/$backend.runs"
    read -r ms rss2 < <(start_and_measure "$full" "$url_full")
    echo "$ms $rss0 $rss2" >>"$work/$backend.image"
  done
  for kind in runs image; do
    label=$([ $kind = runs ] && echo "from the store (image off)" || echo "from the image and the ledger after it")
    sort -n "$work/$backend.$kind" | awk -v b="$backend" -v n="$SUBJECTS" -v c="$choices" -v runs="$RUNS" -v label="$label" '
      { ms[NR]=$1; d[NR]=($3-$2)*1024; e[NR]=$2; f[NR]=$3 }
      END {
        m = int((NR+1)/2)
        printf "%s: start-up with %d subjects, %s: median %d ms of %d starts (min %d, max %d) (target <= 2000 ms: %s)\n", b, n, label, ms[m], runs, ms[1], ms[NR], (ms[m] <= 2000 ? "MET" : "NOT MET")
        printf "%s:   resident memory empty %.1f MB, loaded %.1f MB: %.1f bytes per subject, %.1f bytes per subject-purpose choice (target <= 100: %s)\n", b, e[m]/1024, f[m]/1024, d[m]/n, d[m]/c, (d[m]/c <= 100 ? "MET" : "NOT MET")
      }'
  done
done
