#!/usr/bin/env bash
# Which tables and indexes the frames in a SQLite database's WAL belong to (issue 17, seventh
# sitting): a copy of the database and its WAL, taken while the server is stopped, the frames
# of the current WAL generation read from their headers, and each page mapped to its B-tree
# with SQLite's `dbstat` table.
#
#   bench/wal-census.sh DB [PID]     # PID: the server, stopped (SIGSTOP) while copying
#
# Run it during a write load (`wrk ... bench/lib/consent.lua`) against a server on DB. Needs
# the sqlite3 command-line shell (apt-get install -y sqlite3) and python3.
set -euo pipefail
db=${1:?usage: bench/wal-census.sh DB [PID]}
pid=${2:-}
command -v sqlite3 >/dev/null || { echo "sqlite3 is required (apt-get install -y sqlite3)" >&2; exit 1; }
work=$(mktemp -d -t custodian-wal-census.XXXXXX)
trap 'rm -rf "$work"' EXIT
[ -n "$pid" ] && kill -STOP "$pid"
cp "$db" "$work/snap.db"
cp "$db-wal" "$work/snap.db-wal"
[ -n "$pid" ] && kill -CONT "$pid"
# Frame headers first: opening the copy with sqlite3 may checkpoint its WAL.
python3 - "$work/snap.db-wal" >"$work/frames.txt" 2>"$work/commits.txt" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
_, _, page, _, salt1, salt2, _, _ = struct.unpack('>8I', data[:32])
off, commits = 32, 0
while off + 24 + page <= len(data):
    pgno, commit_size, s1, s2 = struct.unpack('>4I', data[off:off + 16])
    if (s1, s2) != (salt1, salt2):
        break
    print(pgno)
    commits += commit_size != 0
    off += 24 + page
print(commits, file=sys.stderr)
PY
sqlite3 "$work/snap.db" "SELECT name, pageno, pagetype FROM dbstat" >"$work/pages.txt"
python3 - "$work/frames.txt" "$work/pages.txt" "$(cat "$work/commits.txt")" <<'PY'
import collections, sys
owner = {}
for line in open(sys.argv[2]):
    name, pageno, kind = line.rstrip('\n').split('|')
    owner[int(pageno)] = (name, kind)
frames = [int(x) for x in open(sys.argv[1])]
count, distinct = collections.Counter(), collections.defaultdict(set)
for pgno in frames:
    key = owner.get(pgno, ('(free or new)', ''))
    count[key] += 1
    distinct[key].add(pgno)
print(f"{len(frames)} frames in {sys.argv[3]} commits, {len(set(frames))} distinct pages")
print("| B-tree | pages | frames | distinct pages |")
print("| --- | --- | ---: | ---: |")
for (name, kind), n in count.most_common():
    print(f"| {name} | {kind} | {n} | {len(distinct[(name, kind)])} |")
PY
