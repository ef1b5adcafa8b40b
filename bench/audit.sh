#!/usr/bin/env bash
# What one audit-trail append costs (issue 13 item 6): the head row read under its lock, the
# entry hashed and inserted, the head moved, committed — all that recording an administrative
# act adds to it. One at a time (latency), then from several nodes at once (separate pools on
# one database, queueing on the head row), then `verify` over everything written.
#
#   bench/audit.sh                       # SQLite and PostgreSQL, 2,000 appends, 4 nodes
#   APPENDS=5000 NODES=8 bench/audit.sh
#
# `decide` and consent writes never append (docs/audit.md): their cost from the audit trail is
# nil by construction, not by measurement.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
APPENDS=${APPENDS:-2000}
NODES=${NODES:-4}
build_release
machine
work=$(mktemp -d -t custodian-audit.XXXXXX)
echo "--- SQLite ---"
"$BIN/audit-append" sqlite "$work/sqlite" --appends "$APPENDS" --nodes "$NODES"
PG=${CUSTODIAN_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
db="custodian_bench_audit_$$"
if psql "$PG/postgres" -qc "CREATE DATABASE $db" 2>/dev/null; then
  echo "--- PostgreSQL ---"
  "$BIN/audit-append" postgres "$PG/$db" --appends "$APPENDS" --nodes "$NODES"
  psql "$PG/postgres" -qc "DROP DATABASE $db" || true
else
  echo "PostgreSQL at $PG not reachable; skipped" >&2
fi
rm -rf "$work"
