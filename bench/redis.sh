#!/usr/bin/env bash
# The Redis connector's erase rate (issue 16): subjects with ten keys each (an e-mail index
# and nine keys named by the user id, every strategy among them), erased through the
# connector — find the keys, read what changes, one MULTI/EXEC per subject — next to raw DEL
# of the same keys in the same run: one round trip per subject (what a person who knows every
# key would send), and a thousand DELs per pipeline (the server's own ceiling). Then a few
# subjects whose sessions are found by a hash field, which costs one SCAN of the keyspace each.
#
#   bench/redis.sh                               # 20,000 subjects filled, 10,000 erased
#   SUBJECTS=20000 ERASE=10000 RAW=4000 WORKERS=4 SCAN=100 bench/redis.sh
#
# Needs Redis (CUSTODIAN_TEST_REDIS_URL, default redis://127.0.0.1:6379/9); keeps to the key
# prefix custodian-bench and deletes it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

SUBJECTS=${SUBJECTS:-20000}
ERASE=${ERASE:-10000}
RAW=${RAW:-4000}
WORKERS=${WORKERS:-4}
SCAN=${SCAN:-100}
export BENCH_REDIS_URL=${CUSTODIAN_TEST_REDIS_URL:-redis://127.0.0.1:6379/9}
P=custodian-bench

if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -q -p custodian-connectors --bin custodian-redis-bench
fi
B=${CARGO_TARGET_DIR:-target}/release/custodian-redis-bench
echo "machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); $(redis-cli -u "$BENCH_REDIS_URL" INFO server | grep -m1 redis_version | tr -d '\r')"

"$B" clean BENCH_REDIS_URL $P
trap '"$B" clean BENCH_REDIS_URL $P' EXIT
"$B" fill BENCH_REDIS_URL $P "$SUBJECTS"

echo "== hash-field lookup (one SCAN of the keyspace per subject), $SCAN subjects"
"$B" erase-scan BENCH_REDIS_URL $P 1 "$SCAN"
first=$((SCAN + 1))
echo "== connector: $ERASE subjects, $WORKERS workers"
"$B" erase BENCH_REDIS_URL $P $first "$ERASE" "$WORKERS"
first=$((first + ERASE))
echo "== reference: raw DEL, $RAW subjects"
"$B" raw-subject BENCH_REDIS_URL $P $first "$RAW" "$WORKERS"
first=$((first + RAW))
"$B" raw-pipelined BENCH_REDIS_URL $P $first "$RAW"
