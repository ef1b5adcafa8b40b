#!/usr/bin/env bash
# How long the outbox takes to deliver 10,000 messages to an SMTP sink on loopback (issue 5),
# on SQLite and PostgreSQL. The sink is the test server of custodian-mail (in the bench
# process); one worker with default settings (batches of 64, 16 in flight on 16 pooled
# connections, messages marked sent as soon as accepted, those finishing together in one
# commit). Queueing (32 concurrent callers) is timed apart.
# The run checks that every message arrived exactly once.
#
#   bench/outbox.sh                      # both backends, 10,000 messages
#   BACKENDS=sqlite MESSAGES=2000 bench/outbox.sh
#   PG=postgres://postgres@127.0.0.1:5432  (server URL without database; a fresh database is
#   created per run and dropped at the end)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BACKENDS=${BACKENDS:-"sqlite postgres"}
MESSAGES=${MESSAGES:-10000}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
LIMIT=${LIMIT:-600}   # seconds per run, so a stuck run ends

(cd "$ROOT" && cargo build --release -q -p custodian-mail --bin outbox-bench)
BIN="$ROOT/target/release/outbox-bench"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"

work=$(mktemp -d -t custodian-outbox.XXXXXX)
db="custodian_outbox_$(date +%s)"
cleanup() {
  rm -rf "$work"
  psql "$PG/postgres" -qAt -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

for backend in $BACKENDS; do
  case $backend in
    sqlite) url="sqlite://$work/custodian.db" ;;
    postgres)
      psql "$PG/postgres" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
      url="$PG/$db" ;;
    *) echo "unknown backend $backend" >&2; exit 2 ;;
  esac
  timeout "$LIMIT" "$BIN" "$url" "$MESSAGES"
done
