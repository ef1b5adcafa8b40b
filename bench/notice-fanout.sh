#!/usr/bin/env bash
# How long one notice takes to be queued for everyone with an e-mail on record (issue 13: 100,000
# people in under 30 s on SQLite). Seeds the people (a key and a sealed address each; not timed),
# builds the service's context, records a general notice by e-mail and times it until the
# background fan-out marked it done; checks the outbox holds one message per person.
#
#   bench/notice-fanout.sh                     # 100,000 people, release build
#   PEOPLE=10000 PROFILE=debug bench/notice-fanout.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEOPLE=${PEOPLE:-100000}
PROFILE=${PROFILE:-release}
LIMIT=${LIMIT:-900}   # seconds, so a stuck run ends

if [ "$PROFILE" = release ]; then
  (cd "$ROOT" && cargo build --release -q -p custodian-bench --bin notice-fanout)
else
  (cd "$ROOT" && cargo build -q -p custodian-bench --bin notice-fanout)
fi
BIN="$ROOT/target/$PROFILE/notice-fanout"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr); build: $PROFILE"

work=$(mktemp -d -t custodian-notices.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
timeout "$LIMIT" "$BIN" "sqlite://$work/custodian.db" "$PEOPLE"
