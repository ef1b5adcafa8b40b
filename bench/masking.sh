#!/usr/bin/env bash
# Erasure of one subject with a Fides policy's masking strategies against the same erasure
# with `null_rewrite` (issue 16), on a table of 1,000,000 rows in PostgreSQL on loopback.
#
#   bench/masking.sh                      # ROWS=1000000, 10 pairs of rounds of N=50 subjects
#   ROWS=100000 ROUNDS=4 N=20 SKIP_BUILD=1 bench/masking.sh
#
# The table `people` holds one row per subject (e-mail indexed, serial number UNIQUE); the
# Fides dataset describes it. The null policy writes NULL into the five personal columns; the
# masking policy writes an HMAC (e-mail), a constant (name), random strings (phone, serial
# number) and a salted SHA-256 (address). Rounds alternate null, masking, null, masking, ...,
# each on subjects not erased before, one transaction per subject, through the connector
# (`erase::apply`, the code a request runs). Needs PostgreSQL
# (CUSTODIAN_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test); creates and
# drops its own database.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

ROWS=${ROWS:-1000000}
N=${N:-50}
ROUNDS=${ROUNDS:-10}
PG=${CUSTODIAN_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}

if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -q -p custodian-connectors --bin custodian-connectors-bench
fi
machine
echo "binary: custodian-connectors-bench built $(date -r "$BIN/custodian-connectors-bench" '+%F %T'), git $(git rev-parse --short HEAD)"
echo "PostgreSQL $(psql -XtAc 'SHOW server_version' "$PG")"

db=custodian_bench_masking
work=$(mktemp -d)
psql -Xq "$PG" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
export BENCH_MASKING_URL="${PG%/*}/$db"
trap 'psql -Xq "$PG" -c "DROP DATABASE IF EXISTS $db"; rm -rf "$work"; bench_cleanup' EXIT

echo "== $ROWS rows"
psql -Xq "$BENCH_MASKING_URL" <<SQL
CREATE TABLE people (
    id            BIGINT PRIMARY KEY,
    email         VARCHAR(255),
    full_name     VARCHAR(200),
    phone         VARCHAR(40),
    address       VARCHAR(300),
    serial_number VARCHAR(64) UNIQUE
);
INSERT INTO people
SELECT i, 'person-' || i || '@example.com', 'Person ' || i, '+44700' || lpad(i::text, 7, '0'),
       i || ' Example Street, Exampletown', 'SN' || lpad(i::text, 12, '0')
FROM generate_series(1, $ROWS) AS i;
CREATE INDEX people_email ON people (email);
VACUUM ANALYZE people;
SQL
psql -XtA "$BENCH_MASKING_URL" -c "SELECT 'rows: ' || COUNT(*) FROM people"

cat >"$work/dataset.yml" <<'YAML'
dataset:
  - fides_key: people
    collections:
      - name: people
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email}
          - name: full_name
            data_categories: [user.name]
          - name: phone
            data_categories: [user.contact.phone_number]
          - name: address
            data_categories: [user.contact.address]
          - name: serial_number
            data_categories: [user.device.device_id]
YAML
cat >"$work/null.yml" <<'YAML'
key: null_everything
rules:
  - key: null_user_data
    action_type: erasure
    masking_strategy: {strategy: null_rewrite, configuration: {}}
    targets: [{data_category: user}]
YAML
cat >"$work/masking.yml" <<'YAML'
key: masking
rules:
  - key: hmac_emails
    action_type: erasure
    masking_strategy: {strategy: hmac, configuration: {algorithm: SHA-256}}
    targets: [{data_category: user.contact.email}]
  - key: rewrite_names
    action_type: erasure
    masking_strategy: {strategy: string_rewrite, configuration: {rewrite_value: MASKED}}
    targets: [{data_category: user.name}]
  - key: random_phones
    action_type: erasure
    masking_strategy: {strategy: random_string_rewrite, configuration: {length: 12}}
    targets: [{data_category: user.contact.phone_number}]
  - key: hash_addresses
    action_type: erasure
    masking_strategy: {strategy: hash, configuration: {algorithm: SHA-256}}
    targets: [{data_category: user.contact.address}]
  - key: random_serials
    action_type: erasure
    masking_strategy: {strategy: random_string_rewrite, configuration: {length: 20}}
    targets: [{data_category: user.device}]
YAML

round() { # round NAME POLICY FIRST -> prints the round's median (ms); the line goes to stderr
  local line
  line=$("$BIN/custodian-connectors-bench" erase-policy BENCH_MASKING_URL "$work/dataset.yml" "$work/$2.yml" "$3" "$N")
  echo "  $1 (subjects $3..$(( $3 + N - 1 ))): $line" >&2
  echo "$line" | sed -E 's/^median ([0-9.]+) ms.*/\1/'
}
# The machine is shared: null and masking rounds alternate, so both see the same load, and the
# ratio is taken per pair of neighbouring rounds.
echo "== one subject at a time: $ROUNDS pairs of rounds (null, then masking), $N subjects each"
nulls=(); masks=()
first=1
for _ in $(seq 1 "$ROUNDS"); do
  nulls+=("$(round "null   " null "$first")"); first=$(( first + N ))
  masks+=("$(round "masking" masking "$first")"); first=$(( first + N ))
done
printf '%s\n' "${nulls[@]}" >"$work/nulls"; printf '%s\n' "${masks[@]}" >"$work/masks"
paste "$work/nulls" "$work/masks" | awk '
  { n[NR] = $1; m[NR] = $2; r[NR] = $2 / $1 }
  function median(a, k,   i, j, t, c) {
    for (i = 1; i <= k; i++) c[i] = a[i]
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (c[j] < c[i]) { t = c[i]; c[i] = c[j]; c[j] = t }
    return (k % 2) ? c[(k + 1) / 2] : (c[k / 2] + c[k / 2 + 1]) / 2
  }
  END {
    printf "per-round medians: null %.2f ms, masking %.2f ms (median over %d rounds each); ratio masking/null: median of pairs %.2f\n",
      median(n, NR), median(m, NR), NR, median(r, NR)
  }'
