#!/usr/bin/env bash
# Property-based API test: schemathesis generates requests from Custodian's OpenAPI document and
# checks the real `custodian serve` binary's answers against it (docs/testing.md).
#
#   tests/schemathesis/run.sh sqlite|postgres
#
# Environment: CUSTODIAN_BIN (default target/debug/custodian), CUSTODIAN_TEST_POSTGRES_URL (a
# database on the server where a fresh one is created per run; postgres://postgres@127.0.0.1:5432/test),
# SCHEMATHESIS_EXAMPLES (examples per operation, default 12), SCHEMATHESIS_SEED (default 15).
#
# Exit status: 0 the API held, 1 schemathesis found a failure (or the document is not valid
# OpenAPI), 77 this machine cannot run the test (no python3 with venv, no network for pip, no
# PostgreSQL) — the caller decides whether that is a skip or a failure (it is one under CI=true).
set -euo pipefail

backend="${1:?usage: run.sh sqlite|postgres}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${CUSTODIAN_BIN:-$root/target/debug/custodian}"
seed="${SCHEMATHESIS_SEED:-15}"
examples="${SCHEMATHESIS_EXAMPLES:-12}"
# Pinned: a new release may generate other cases, and a run must be reproducible.
st_version="4.32.5"
validator_version="0.9.0"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/custodian/schemathesis-$st_version"

cannot_run() {
  echo "schemathesis: cannot run here: $*" >&2
  exit 77
}

# The tools, installed once into a virtual environment of their own (idempotent: a complete
# environment is marked and reused; `.ci/run` calls `run.sh install` ahead of the tests).
install() {
  [ -f "$venv/.complete" ] && return 0
  command -v python3 >/dev/null || cannot_run "python3 is not installed"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv" >/dev/null 2>&1 || cannot_run "python3 cannot make a virtual environment (Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "schemathesis==$st_version" "openapi-spec-validator==$validator_version" >&2 \
    || { rm -rf "$venv"; cannot_run "pip could not install schemathesis $st_version (no network?)"; }
  touch "$venv/.complete"
}

if [ "$backend" = install ]; then
  install
  exit 0
fi
[ -x "$bin" ] || { echo "schemathesis: no binary at $bin (cargo build -p custodian)" >&2; exit 1; }
install

work="$(mktemp -d "${TMPDIR:-/tmp}/custodian-schemathesis.XXXXXX")"
server_pid=""
database=""
admin_url=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  if [ -n "$database" ]; then
    psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cd "$work"
# Only what this script sets configures the server (a caller's own settings stay out).
unset CUSTODIAN_CONFIG CUSTODIAN_POLICY CUSTODIAN_LISTEN CUSTODIAN_ALLOWED_ORIGINS CUSTODIAN_PUBLIC_URL \
  CUSTODIAN_SMTP_URL CUSTODIAN_SMTP_FROM CUSTODIAN_SECRET CUSTODIAN_SECRET_FILE CUSTODIAN_MASTER_KEY \
  CUSTODIAN_MASTER_KEY_FILE CUSTODIAN_KEY_STORE_URL
case "$backend" in
  sqlite)
    export CUSTODIAN_DATABASE_URL="sqlite://$work/custodian.db"
    ;;
  postgres)
    admin_url="${CUSTODIAN_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
    command -v psql >/dev/null && command -v pg_isready >/dev/null \
      || cannot_run "psql and pg_isready are not installed"
    pg_isready -q -d "$admin_url" 2>/dev/null || cannot_run "PostgreSQL does not answer at $admin_url"
    # A fresh database per run, named like the tests' own so `.ci/run` sweeps any left over.
    database="custodian_t_schemathesis_$$_$RANDOM"
    psql -q "$admin_url" -c "CREATE DATABASE $database" >/dev/null
    export CUSTODIAN_DATABASE_URL="${admin_url%/*}/$database"
    ;;
  *) echo "usage: run.sh sqlite|postgres" >&2; exit 2 ;;
esac

# Limits that would answer 429 to a test client sending hundreds of requests a second are set
# out of the way: they are tested on their own, and here they would only hide the handlers.
export CUSTODIAN_INTAKE_LIMIT_PER_CLIENT=1000000
export CUSTODIAN_INTAKE_LIMIT_PER_ADDRESS=1000000
export CUSTODIAN_CONSENT_LIMIT_PER_CLIENT=0
export CUSTODIAN_LOG="${CUSTODIAN_LOG:-warn}"

# An admin token may call every route (app::tokens::authorize).
token="$("$bin" token create --role admin --name schemathesis)"

"$bin" serve --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
base=""
for _ in $(seq 1 300); do
  base="$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.out" | head -n1 || true)"
  [ -n "$base" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "schemathesis: the server did not start" >&2
  cat "$work/serve.err" >&2
  exit 1
fi

curl -sf "$base/openapi.json" -o "$work/openapi.json" \
  || python3 -c "import urllib.request,sys; sys.stdout.buffer.write(urllib.request.urlopen('$base/openapi.json').read())" >"$work/openapi.json"
echo "== openapi-spec-validator $validator_version"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"

echo "== schemathesis $st_version on $backend: seed $seed, $examples examples per operation"
status=0
SCHEMATHESIS_HOOKS="$root/tests/schemathesis/hooks.py" NO_COLOR=1 "$venv/bin/schemathesis" run "$base/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --seed "$seed" --max-examples "$examples" --workers 2 \
  --phases examples,coverage,fuzzing,stateful \
  --suppress-health-check filter_too_much \
  --request-timeout 10 --max-redirects 0 --no-color \
  || status=$?

# Whatever the checks said, a server that logged an internal error failed.
if grep -q "internal error" "$work/serve.err"; then
  echo "schemathesis: the server logged internal errors:" >&2
  grep "internal error" "$work/serve.err" | head -n 20 >&2
  status=1
fi
exit "$status"
