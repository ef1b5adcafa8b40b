#!/usr/bin/env bash
# The server's CPU per durable consent write on SQLite, for trying a variant of the database
# (issue 17, eighth sitting): a fresh database, optionally changed by SQL before the server
# starts (PREP, run with the sqlite3 shell: a page size, a table rebuilt another way), then
# C clients give consent for a new device each, 2 s of warm-up and DURATION s measured.
# Prints the CPU per write (and the kernel's share) and the writes per second. Alternate the
# variants in one sitting: one run moves by ±10 % on a shared 2-core machine.
#
#   SKIP_BUILD=1 bench/write-variant.sh
#   PREP="PRAGMA journal_mode=DELETE; PRAGMA page_size=8192; VACUUM; PRAGMA journal_mode=WAL;" \
#     SKIP_BUILD=1 bench/write-variant.sh
#   C=128 DURATION=8 SKIP_BUILD=1 bench/write-variant.sh
#   REFUSE=1 SKIP_BUILD=1 bench/write-variant.sh       # refusals instead of consents
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
C=${C:-64}
DURATION=${DURATION:-5}
PREP=${PREP:-}
# A banner's "reject all" instead of "accept": the refusal's path (notices, withdrawn state).
given=true
[ -z "${REFUSE:-}" ] || given=false
command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 1; }
[ -z "$PREP" ] || command -v sqlite3 >/dev/null || { echo "PREP needs sqlite3 (apt-get install -y sqlite3)" >&2; exit 1; }
build_release >/dev/null
work=$(mktemp -d -t custodian-write-variant.XXXXXX)
trap 'bench_cleanup; rm -rf "$work"' EXIT INT TERM
url="sqlite://$work/c.db"
( cd "$work" && "$BIN/custodian" --database-url "$url" token create --role service ) >/dev/null 2>&1
[ -z "$PREP" ] || sqlite3 "$work/c.db" "$PREP" >/dev/null
start_server custodian "$work" env -C "$work" "$BIN/custodian" --database-url "$url" serve --listen 127.0.0.1:0
load() { wrk -t1 -c"$C" -d"$1"s -s "$ROOT/bench/lib/consent.lua" "http://$SERVER_ADDR/v1/consent" -- "$2" "$given"; }
load 2 "warm$RANDOM" >/dev/null
wait_quiet "$SERVER_PID"
ticks() { awk '{print $14 + $15, $15}' "/proc/$SERVER_PID/stat"; }
read -r c0 s0 < <(ticks)
load "$DURATION" "meas$RANDOM" >"$work/wrk.out"
# The fold of the tail the writes left (SQLite) is theirs too.
wait_quiet "$SERVER_PID"
read -r c1 s1 < <(ticks)
created=$(bench_json "$work/wrk.out" | jq .created)
hz=$(getconf CLK_TCK)
awk -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v n="$created" -v hz="$hz" -v d="$DURATION" -v clients="$C" \
  'BEGIN { printf "%.1f us CPU per write (%.1f in the kernel), %d writes/s, %d clients\n", c * 1e6 / hz / n, s * 1e6 / hz / n, n / d, clients }'
