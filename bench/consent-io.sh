#!/usr/bin/env bash
# What one durable consent write costs the server in file and socket I/O (issue 17): one
# `custodian serve` on a fresh SQLite database, 64 connections writing consent for a new device
# each (bench/lib/consent.lua), and the server's own counters from /proc/PID/io and
# /proc/PID/stat around the measured run: write and read system calls per write, bytes written
# and read per write (sockets included: the answer is ~1.5 KB), and CPU per write.
#
#   bench/consent-io.sh                      # release build first
#   SKIP_BUILD=1 BIN=/tmp/new DURATION=6 bench/consent-io.sh
#
# On SQLite each new subject dirties a random leaf page in two indexes (the events' subject
# index and the current state's key): written once to the WAL and once more by the checkpoint.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
DURATION=${DURATION:-6}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 1; }
build_release
machine
work=$(mktemp -d -t custodian-consent-io.XXXXXX)
trap 'bench_cleanup; rm -rf "$work"' EXIT INT TERM
start_server custodian "$work" env -C "$work" "$BIN/custodian" --database-url "sqlite://$work/c.db" serve --listen 127.0.0.1:0
pid=$SERVER_PID; base="http://$SERVER_ADDR"
wrk -t1 -c64 -d2s -s "$ROOT/bench/lib/consent.lua" "$base/v1/consent" -- "warm$RANDOM" >/dev/null
io0=$(tr '\n' ' ' <"/proc/$pid/io"); cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
wrk -t1 -c64 -d"${DURATION}s" -s "$ROOT/bench/lib/consent.lua" "$base/v1/consent" -- "m$RANDOM" >"$work/wrk.txt"
io1=$(tr '\n' ' ' <"/proc/$pid/io"); cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
stop_server "$pid"
n=$(bench_json "$work/wrk.txt" | jq .created)
python3 - "$n" "$io0" "$io1" "$cpu0" "$cpu1" "$(getconf CLK_TCK)" <<'PY'
import sys
n = int(sys.argv[1])
def counters(s):
    t = s.split()
    return {t[i].rstrip(':'): int(t[i + 1]) for i in range(0, len(t) - 1, 2)}
a, b = counters(sys.argv[2]), counters(sys.argv[3])
per = lambda k: (b[k] - a[k]) / n
cpu_us = (int(sys.argv[5]) - int(sys.argv[4])) * 1e6 / int(sys.argv[6]) / n
print(f"sqlite: {n} consent writes; per write: {per('syscw'):.2f} write calls, {per('wchar'):.0f} bytes written, "
      f"{per('syscr'):.2f} read calls, {per('rchar'):.0f} bytes read; {cpu_us:.1f} us CPU")
PY
