#!/usr/bin/env bash
# Two builds side by side in one sitting: decide, durable consent writes, request intake and
# the serve footprint, run for OLD, NEW, OLD, NEW, ... so drift on this shared machine hits
# both. Used before and after a refactor that must not make anything slower.
#
#   cargo build --release -p custodian -p custodian-bench
#   mkdir -p /tmp/old && cp target/release/{custodian,constant-server,raw-inserts,serve-probe} /tmp/old
#   ... change the code, build again ...
#   OLD=/tmp/old NEW=target/release ROUNDS=2 DURATION=8 bench/compare.sh
#
# Each script's own summary is printed per build and round; the scripts' raw output is kept in
# OUT (default: a fresh temporary folder, named at the end).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OLD=${OLD:?OLD=folder of the old build\'s binaries}
NEW=${NEW:-$ROOT/target/release}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-8}
SCRIPTS=${SCRIPTS:-"decide consent intake serve-footprint"}
OUT=${OUT:-$(mktemp -d -t custodian-compare.XXXXXX)}
mkdir -p "$OUT"

for b in "$OLD" "$NEW"; do
  for exe in custodian constant-server raw-inserts serve-probe; do
    [ -x "$b/$exe" ] || { echo "$b/$exe is missing" >&2; exit 1; }
  done
done

summary() { # SCRIPT FILE: the lines after the script's summary marker (or its table)
  case $1 in
    decide) sed -n '/^--- summary/,/^non-2xx/p' "$2" | grep -E 'ratio|^custodian:|^constant :' ;;
    consent) sed -n '/^--- summary/,$p' "$2" | grep -E '^(sqlite|postgres):' ;;
    intake) grep -E '^\| (sqlite|postgres) ' "$2" ;;
    serve-footprint) grep -vE '^(machine|load average|binaries|---)' "$2" ;;
  esac
}

echo "OLD=$OLD ($(date -r "$OLD/custodian" '+%F %T'))"
echo "NEW=$NEW ($(date -r "$NEW/custodian" '+%F %T'))"
echo "rounds: $ROUNDS, DURATION=$DURATION s, scripts: $SCRIPTS"
for r in $(seq 1 "$ROUNDS"); do
  for label in old new; do
    dir=$OLD; [ "$label" = new ] && dir=$NEW
    for s in $SCRIPTS; do
      f="$OUT/$s-$label-$r.txt"
      BIN="$dir" SKIP_BUILD=1 SKIP_CRITERION=1 DURATION="$DURATION" RUNS="${RUNS:-20}" \
        ROUNDS="${SCRIPT_ROUNDS:-2}" bash "$ROOT/bench/$s.sh" >"$f" 2>&1 || echo "($s failed, see $f)"
      summary "$s" "$f" | sed "s/^/round $r $label $s: /"
    done
  done
done
echo "raw output: $OUT"
