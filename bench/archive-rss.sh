#!/usr/bin/env bash
# Peak memory of building an access archive (issue 16, item 5): the sample company on
# PostgreSQL with customer 1 given ROWS extra orders, one access request for customer 1, the
# archive built as a download builds it (the company's rows read through the connectors) by
# crates/bench's `archive-rss`, which prints the archive's size and the process's peak RSS.
#
#   bench/archive-rss.sh                      # ROWS="10000 1000000"
#   ROWS=10000 SKIP_BUILD=1 bench/archive-rss.sh
#   BIN=/path/to/other/target/release bench/archive-rss.sh   # another build (before/after)
#
# Needs PostgreSQL (CUSTODIAN_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test);
# creates and drops its own database.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-"10000 1000000"}
PG=${CUSTODIAN_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -q -p custodian-bench --bin archive-rss -p custodian-connectors --bin custodian-company-gen
fi
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); PostgreSQL $(psql -XtAc 'SHOW server_version' "$PG"); git $(git rev-parse --short HEAD)"

db=custodian_bench_archive
tmp=$(mktemp -d)
trap 'psql -Xq "$PG" -c "DROP DATABASE IF EXISTS $db"; rm -rf "$tmp"' EXIT
export BENCH_COMPANY_URL="${PG%/*}/$db"
for rows in $ROWS; do
  psql -Xq "$PG" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  # Ten customers; customer 1 also gets $rows orders (one `payment` record each).
  "$BIN/custodian-company-gen" BENCH_COMPANY_URL 10 "$rows" >/dev/null
  psql -Xq "$BENCH_COMPANY_URL" -c "VACUUM ANALYZE"
  rm -f "$tmp/store.db"
  echo "== customer 1 with $rows extra orders"
  "$BIN/archive-rss" "sqlite://$tmp/store.db?mode=rwc" BENCH_COMPANY_URL \
    "$PWD/examples/company/company.toml" customer-1@example.com
done
