#!/usr/bin/env bash
# Connectors on loopback (issue 6): erase one subject from the sample company filled to a
# million rows on PostgreSQL, next to the same statements written by hand; erase a batch of
# subjects on PostgreSQL and MariaDB; stream one subject's export with 10,000 rows and
# report peak memory next to a subject with ten rows (memory must stay flat).
#
#   bench/connectors.sh                          # 100,000 customers (~1,000,000 rows) on PG
#   CUSTOMERS=100000 MYSQL_CUSTOMERS=20000 BATCH=10000 WORKERS=4 bench/connectors.sh
#   ONLY=batch SKIP_BUILD=1 bench/connectors.sh    # only the batch erasures, PG and MariaDB
#
# Needs PostgreSQL (CUSTODIAN_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test)
# and MariaDB (CUSTODIAN_TEST_MYSQL_URL, default mysql://root@127.0.0.1:3306/test); creates
# and drops its own databases.
set -euo pipefail
cd "$(dirname "$0")/.."

CUSTOMERS=${CUSTOMERS:-100000}
MYSQL_CUSTOMERS=${MYSQL_CUSTOMERS:-20000}
BATCH=${BATCH:-10000}
WORKERS=${WORKERS:-4}
ONE=${ONE:-50}
ONLY=${ONLY:-all}
PG=${CUSTODIAN_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
MY=${CUSTODIAN_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}

if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -q -p custodian-connectors --bin custodian-company-gen --bin custodian-connectors-bench
fi
BIN=${CARGO_TARGET_DIR:-target}/release
echo "machine: $(nproc) cores, $(uname -r); PostgreSQL $(psql -XtAc 'SHOW server_version' "$PG"), MariaDB $(mariadb -uroot -h127.0.0.1 -Nse 'SELECT VERSION()')"

db=custodian_bench_connectors
psql -Xq "$PG" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
export BENCH_PG_URL="${PG%/*}/$db"
trap 'psql -Xq "$PG" -c "DROP DATABASE IF EXISTS $db"; mariadb -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $db"' EXIT

echo "== PostgreSQL: generating $CUSTOMERS customers (customer 1 with 10,000 extra orders)"
"$BIN/custodian-company-gen" BENCH_PG_URL "$CUSTOMERS" 10000
psql -Xq "$BENCH_PG_URL" -c "VACUUM ANALYZE"
psql -XtA "$BENCH_PG_URL" -c "SELECT 'rows in the schema: ' || (SELECT SUM(n_live_tup) FROM pg_stat_user_tables)"

if [ "$ONLY" != batch ]; then
  echo "== PostgreSQL: erase one subject ($ONE subjects each way, one transaction per subject)"
  "$BIN/custodian-connectors-bench" erase-one BENCH_PG_URL 1000 "$ONE"
fi

echo "== PostgreSQL: erase $BATCH subjects, $WORKERS workers"
"$BIN/custodian-connectors-bench" erase-batch BENCH_PG_URL 20001 "$BATCH" "$WORKERS"

if [ "$ONLY" != batch ]; then
  echo "== PostgreSQL: access export (JSON lines to a null writer)"
  "$BIN/custodian-connectors-bench" access BENCH_PG_URL 1
  "$BIN/custodian-connectors-bench" access BENCH_PG_URL 2
fi

mariadb -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
export BENCH_MY_URL="${MY%/*}/$db"
echo "== MariaDB: generating $MYSQL_CUSTOMERS customers"
"$BIN/custodian-company-gen" BENCH_MY_URL "$MYSQL_CUSTOMERS" 0
# Fresh statistics, as PostgreSQL gets from VACUUM ANALYZE: without them InnoDB may plan the
# walk's subqueries from the empty tables' estimates.
tables=$(mariadb -uroot -h127.0.0.1 -Nse "SELECT GROUP_CONCAT(table_name) FROM information_schema.tables WHERE table_schema = '$db'")
mariadb -uroot -h127.0.0.1 "$db" -e "ANALYZE TABLE $tables" >/dev/null
echo "== MariaDB: erase $BATCH subjects, $WORKERS workers"
"$BIN/custodian-connectors-bench" erase-batch BENCH_MY_URL 2 "$BATCH" "$WORKERS"
