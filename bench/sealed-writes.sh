#!/usr/bin/env bash
# Request writes (intake: request row, first history entry, verification mail; group-committed)
# sealed under per-subject keys, against the same writes in plain text, in one run per backend;
# then the read side (fetch one request and have its address). Every request is a new subject:
# the worst case, where each write also makes and stores a key.
#
#   bench/sealed-writes.sh                    # SQLite and PostgreSQL, 32 clients, 2 x 8 s rounds
#   CLIENTS=64 SECONDS_PER_ROUND=10 ROUNDS=3 bench/sealed-writes.sh
#
# Target (issue 7): measured and reported as a ratio; no threshold.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
CLIENTS=${CLIENTS:-32}
SECONDS_PER_ROUND=${SECONDS_PER_ROUND:-8}
ROUNDS=${ROUNDS:-2}
build_release
machine
work=$(mktemp -d -t custodian-sealed.XXXXXX)
echo "--- SQLite (data in custodian.db, keys in custodian-keys.db) ---"
"$BIN/sealed-writes" sqlite "$work/sqlite" --clients "$CLIENTS" --seconds "$SECONDS_PER_ROUND" --rounds "$ROUNDS"
PG=${CUSTODIAN_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
db="custodian_bench_sealed_$$"
if psql "$PG/postgres" -qc "CREATE DATABASE $db" 2>/dev/null; then
  echo "--- PostgreSQL (keys in the same database) ---"
  "$BIN/sealed-writes" postgres "$PG/$db" --clients "$CLIENTS" --seconds "$SECONDS_PER_ROUND" --rounds "$ROUNDS"
  psql "$PG/postgres" -qc "DROP DATABASE $db" || true
else
  echo "PostgreSQL at $PG not reachable; skipped" >&2
fi
rm -rf "$work"
